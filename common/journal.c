/*
 * journal.c - the matcher's durable alert journal (see journal.h).
 *
 * Schema (version in meta.schema):
 *   alerts(seq INTEGER PRIMARY KEY, ts, topic, body)  - the alerts
 *   items(feed, id, ts, PRIMARY KEY(feed, id))        - processed item keys
 *   meta(key PRIMARY KEY, value)                      - schema, head
 * `head` is kept in meta (written with each group that appended) so seq
 * never goes back even when pruning emptied the alerts table.  All
 * statements are prepared once at open.
 *
 * Checkpoints (copying the WAL back into the database file) run on a
 * thread of their own with its own connection, so that the writer does not
 * pay for them: after a commit that leaves JOURNAL_CKPT_FRAMES frames or
 * more in the WAL, the writer's WAL hook wakes the checkpointer, which runs
 * a PASSIVE checkpoint (it never blocks the writer; SQLite keeps the two
 * consistent, crash-safe, and fsyncs as synchronous says).  A writer that
 * never pauses could keep a checkpoint from ever catching up, and the WAL
 * restarts from its beginning only once everything in it was copied: past
 * JOURNAL_CKPT_FRAMES_FORCE frames the writer checkpoints itself, right
 * after its commit, as SQLite's own auto-checkpoint would.
 */
#include "journal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon.h"

#define JOURNAL_ITEMS_KEEP_S (30LL * 86400) /* item keys when retention_s is 0 */
#define JOURNAL_CKPT_FRAMES 1000        /* SQLite's auto-checkpoint default */
#define JOURNAL_CKPT_FRAMES_FORCE 16000 /* ~64 MB of WAL: the writer checkpoints */

enum {
    ST_APPEND,
    ST_ITEM_SEEN,
    ST_ITEM_MARK,
    ST_PUT_HEAD,
    ST_READ,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

static const char *const journal_sql[ST_COUNT] = {
    [ST_APPEND] = "INSERT INTO alerts(seq, ts, topic, body) VALUES (?1, ?2, ?3, ?4)",
    [ST_ITEM_SEEN] = "SELECT 1 FROM items WHERE feed = ?1 AND id = ?2",
    [ST_ITEM_MARK] = "INSERT OR IGNORE INTO items(feed, id, ts) VALUES (?1, ?2, ?3)",
    [ST_PUT_HEAD] = "INSERT OR REPLACE INTO meta(key, value) VALUES ('head', ?1)",
    [ST_READ] = "SELECT seq, topic, body FROM alerts WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct journal {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    struct journal_opts opts;
    int64_t head;           /* newest seq, including the open group */
    int64_t head_committed; /* newest seq on disk */
    int64_t oldest;         /* oldest seq kept (head + 1 when none) */
    int in_group;
    char errmsg[512];
    /* the checkpointer thread and its connection */
    sqlite3 *ckdb;
    pthread_t ckthread;
    int ckstarted;
    pthread_mutex_t ckmu;
    pthread_cond_t ckcond;
    int ckwant, ckquit;
};

static void *journal_checkpointer(void *arg)
{
    struct journal *j = arg;

    pthread_mutex_lock(&j->ckmu);
    for (;;) {
        while (!j->ckwant && !j->ckquit)
            pthread_cond_wait(&j->ckcond, &j->ckmu);
        if (j->ckquit)
            break;
        j->ckwant = 0;
        pthread_mutex_unlock(&j->ckmu);
        /* SQLITE_BUSY (the writer checkpointing itself) and I/O errors:
         * the next round tries again; the writer's forced checkpoint
         * reports a lasting problem */
        sqlite3_wal_checkpoint_v2(j->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&j->ckmu);
    }
    pthread_mutex_unlock(&j->ckmu);
    return NULL;
}

/* Called by SQLite on the writer's connection after each commit. */
static int journal_wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
    struct journal *j = arg;

    if (nframes >= JOURNAL_CKPT_FRAMES_FORCE || !j->ckstarted) {
        if (nframes >= JOURNAL_CKPT_FRAMES)
            sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (nframes >= JOURNAL_CKPT_FRAMES) {
        pthread_mutex_lock(&j->ckmu);
        j->ckwant = 1;
        pthread_cond_signal(&j->ckcond);
        pthread_mutex_unlock(&j->ckmu);
    }
    return SQLITE_OK;
}

/* Open the checkpointer's connection and start its thread.  On failure the
 * writer checkpoints itself (journal_wal_hook); returns 0 or -1. */
static int journal_start_checkpointer(struct journal *j)
{
    char pragma[64];

    if (sqlite3_open_v2(j->path, &j->ckdb, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(j->ckdb, 5000);
    snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s;", j->opts.sync ? "FULL" : "OFF");
    if (sqlite3_exec(j->ckdb, pragma, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (daemon_thread_start(&j->ckthread, journal_checkpointer, j) != 0)
        return -1;
    j->ckstarted = 1;
    return 0;
}

static int journal_fail(struct journal *j, const char *what)
{
    snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s: %s", j->path, what, sqlite3_errmsg(j->db));
    return -1;
}

static int journal_step_done(struct journal *j, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return journal_fail(j, what);
    return 0;
}

/* Run a statement returning one integer (0 when no row). */
static int journal_scalar(struct journal *j, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    *out = 0;
    if (sqlite3_prepare_v2(j->db, sql, -1, &s, NULL) != SQLITE_OK)
        return journal_fail(j, "cannot prepare a query");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return journal_fail(j, "cannot run a query");
    return 0;
}

static int journal_refresh_oldest(struct journal *j)
{
    int64_t v;

    if (journal_scalar(j, "SELECT min(seq) FROM alerts", &v) != 0)
        return -1;
    j->oldest = v > 0 ? v : j->head + 1;
    return 0;
}

int journal_open(const char *path, const struct journal_opts *opts, struct journal **out,
                 na_error *err)
{
    struct journal *j;
    char *emsg = NULL;
    char pragmas[256];
    int64_t schema = 0, head = 0, maxseq = 0;
    int i;

    *out = NULL;
    if ((j = calloc(1, sizeof(*j))) == NULL || (j->path = strdup(path)) == NULL) {
        free(j);
        return na_error_set(err, 0, 0, "out of memory");
    }
    j->opts = *opts;
    pthread_mutex_init(&j->ckmu, NULL);
    pthread_cond_init(&j->ckcond, NULL);
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot open journal: %s", path,
                     j->db != NULL ? sqlite3_errmsg(j->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(j->db, 5000);
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", opts->sync ? "FULL" : "OFF");
    if (sqlite3_exec(j->db, pragmas, NULL, NULL, &emsg) != SQLITE_OK ||
        sqlite3_exec(j->db,
                     "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
                     "CREATE TABLE IF NOT EXISTS alerts(seq INTEGER PRIMARY KEY, ts INTEGER,"
                     " topic TEXT NOT NULL, body BLOB NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS items(feed TEXT NOT NULL, id TEXT NOT NULL,"
                     " ts INTEGER, PRIMARY KEY(feed, id)) WITHOUT ROWID;"
                     "CREATE INDEX IF NOT EXISTS items_ts ON items(ts);"
                     "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', 1);",
                     NULL, NULL, &emsg) != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot set up the journal: %s", path,
                     emsg != NULL ? emsg : sqlite3_errmsg(j->db));
        sqlite3_free(emsg);
        goto fail;
    }
    if (journal_scalar(j, "SELECT value FROM meta WHERE key = 'schema'", &schema) != 0 ||
        journal_scalar(j, "SELECT value FROM meta WHERE key = 'head'", &head) != 0 ||
        journal_scalar(j, "SELECT max(seq) FROM alerts", &maxseq) != 0) {
        na_error_set(err, 0, 0, "%s", j->errmsg);
        goto fail;
    }
    if (schema != JOURNAL_SCHEMA_VERSION) {
        na_error_set(err, 0, 0, "%s: journal schema %lld is not supported (expected %d)", path,
                     (long long)schema, JOURNAL_SCHEMA_VERSION);
        goto fail;
    }
    j->head = j->head_committed = head > maxseq ? head : maxseq;
    for (i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(j->db, journal_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i],
                               NULL) != SQLITE_OK) {
            na_error_set(err, 0, 0, "%s: cannot prepare statements: %s", path,
                         sqlite3_errmsg(j->db));
            goto fail;
        }
    }
    if (journal_refresh_oldest(j) != 0) {
        na_error_set(err, 0, 0, "%s", j->errmsg);
        goto fail;
    }
    /* replaces SQLite's auto-checkpoint (which is itself a WAL hook) */
    sqlite3_wal_hook(j->db, journal_wal_hook, j);
    if (journal_start_checkpointer(j) != 0) {
        sqlite3_close(j->ckdb);
        j->ckdb = NULL;
    }
    *out = j;
    return 0;
fail:
    journal_close(&j);
    return -1;
}

void journal_close(struct journal **pj)
{
    struct journal *j;
    int i;

    if (pj == NULL || *pj == NULL)
        return;
    j = *pj;
    *pj = NULL;
    if (j->ckstarted) {
        pthread_mutex_lock(&j->ckmu);
        j->ckquit = 1;
        pthread_cond_signal(&j->ckcond);
        pthread_mutex_unlock(&j->ckmu);
        pthread_join(j->ckthread, NULL);
        j->ckstarted = 0;
    }
    sqlite3_close(j->ckdb); /* before the writer's: the last close checkpoints */
    pthread_cond_destroy(&j->ckcond);
    pthread_mutex_destroy(&j->ckmu);
    if (j->in_group)
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(j->st[i]);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

const char *journal_errmsg(const struct journal *j)
{
    return j->errmsg;
}

int64_t journal_head(const struct journal *j)
{
    return j->head;
}

int64_t journal_oldest(const struct journal *j)
{
    return j->oldest > j->head ? j->head + 1 : j->oldest;
}

int journal_begin(struct journal *j)
{
    if (j->in_group) {
        snprintf(j->errmsg, sizeof(j->errmsg), "%s: a group is already open", j->path);
        return -1;
    }
    if (journal_step_done(j, j->st[ST_BEGIN], "cannot begin a group") != 0)
        return -1;
    j->in_group = 1;
    return 0;
}

int journal_commit(struct journal *j)
{
    sqlite3_stmt *s = j->st[ST_PUT_HEAD];

    if (!j->in_group) {
        snprintf(j->errmsg, sizeof(j->errmsg), "%s: no group is open", j->path);
        return -1;
    }
    if (j->head != j->head_committed) {
        sqlite3_bind_int64(s, 1, j->head);
        if (journal_step_done(j, s, "cannot record the head") != 0)
            return -1;
    }
    if (journal_step_done(j, j->st[ST_COMMIT], "cannot commit") != 0)
        return -1;
    j->in_group = 0;
    if (j->oldest > j->head_committed && j->head > j->head_committed)
        j->oldest = j->head_committed + 1;
    j->head_committed = j->head;
    return 0;
}

int journal_rollback(struct journal *j)
{
    if (!j->in_group)
        return 0;
    j->in_group = 0;
    j->head = j->head_committed;
    return journal_step_done(j, j->st[ST_ROLLBACK], "cannot roll back");
}

int journal_append(struct journal *j, int64_t seq, const char *topic, const char *body,
                   size_t len, int64_t ts)
{
    sqlite3_stmt *s = j->st[ST_APPEND];

    if (!j->in_group || seq != j->head + 1) {
        snprintf(j->errmsg, sizeof(j->errmsg), "%s: append of seq %lld out of order (head %lld)",
                 j->path, (long long)seq, (long long)j->head);
        return -1;
    }
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, ts);
    sqlite3_bind_text(s, 3, topic, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, body, (int)len, SQLITE_STATIC);
    if (journal_step_done(j, s, "cannot append an alert") != 0)
        return -1;
    j->head = seq;
    return 0;
}

int journal_item_seen(struct journal *j, const char *feed, const char *id)
{
    sqlite3_stmt *s = j->st[ST_ITEM_SEEN];
    int rc;

    sqlite3_bind_text(s, 1, feed, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return journal_fail(j, "cannot look up an item");
}

int journal_item_mark(struct journal *j, const char *feed, const char *id, int64_t now)
{
    sqlite3_stmt *s = j->st[ST_ITEM_MARK];

    sqlite3_bind_text(s, 1, feed, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    if (journal_step_done(j, s, "cannot record an item") != 0)
        return -1;
    return sqlite3_changes(j->db) > 0 ? 1 : 0;
}

static int journal_topic_wanted(const char *topic, const char *const *prefixes, size_t n)
{
    size_t i;

    if (n == 0)
        return 1;
    for (i = 0; i < n; i++)
        if (strncmp(topic, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

long journal_read(struct journal *j, int64_t after, const char *const *prefixes,
                  size_t nprefixes, long max_alerts, size_t max_bytes, long max_scan,
                  journal_read_fn fn, void *arg, int64_t *last)
{
    sqlite3_stmt *s = j->st[ST_READ];
    long given = 0, scanned = 0;
    size_t bytes = 0;
    int rc;

    *last = after;
    if (after >= j->head_committed) {
        *last = after > j->head_committed ? after : j->head_committed;
        return 0;
    }
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, max_scan);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        const char *topic = (const char *)sqlite3_column_text(s, 1);
        const char *body = sqlite3_column_blob(s, 2);
        size_t len = (size_t)sqlite3_column_bytes(s, 2);

        if (seq > j->head_committed)
            break; /* an open group of our own: not durable yet */
        scanned++;
        if (topic != NULL && body != NULL &&
            journal_topic_wanted(topic, prefixes, nprefixes)) {
            if (given >= max_alerts || (given > 0 && bytes + len > max_bytes))
                break;
            if (fn(seq, topic, body, len, arg) != 0) {
                *last = seq;
                given++;
                break;
            }
            given++;
            bytes += len;
        }
        *last = seq;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return journal_fail(j, "cannot read alerts");
    /* The table ran out before the scan limit: everything up to the head
     * was examined. */
    if (rc == SQLITE_DONE && scanned < max_scan)
        *last = j->head_committed;
    return given;
}

int64_t journal_prune(struct journal *j, int64_t now)
{
    char sql[256];
    int64_t removed = 0, keep_from, items_keep;
    char *emsg = NULL;

    if (j->in_group) {
        snprintf(j->errmsg, sizeof(j->errmsg), "%s: cannot prune inside a group", j->path);
        return -1;
    }
    keep_from = j->head_committed; /* the newest is always kept */
    if (j->opts.max_alerts > 0 && j->head_committed - j->opts.max_alerts + 1 < keep_from)
        keep_from = j->head_committed - j->opts.max_alerts + 1;
    snprintf(sql, sizeof(sql), "DELETE FROM alerts WHERE seq < %lld", (long long)keep_from);
    if (j->opts.max_alerts > 0) {
        if (sqlite3_exec(j->db, sql, NULL, NULL, &emsg) != SQLITE_OK)
            goto fail;
        removed += sqlite3_changes(j->db);
    }
    if (j->opts.retention_s > 0) {
        snprintf(sql, sizeof(sql), "DELETE FROM alerts WHERE ts < %lld AND seq < %lld",
                 (long long)(now - j->opts.retention_s), (long long)j->head_committed);
        if (sqlite3_exec(j->db, sql, NULL, NULL, &emsg) != SQLITE_OK)
            goto fail;
        removed += sqlite3_changes(j->db);
    }
    /* Processed-item keys only guard against resends, which come within
     * minutes: keep them for the retention, at least a day, 30 days when
     * alerts are kept forever. */
    items_keep = j->opts.retention_s > 0 ? j->opts.retention_s : JOURNAL_ITEMS_KEEP_S;
    if (items_keep < 86400)
        items_keep = 86400;
    snprintf(sql, sizeof(sql), "DELETE FROM items WHERE ts < %lld", (long long)(now - items_keep));
    if (sqlite3_exec(j->db, sql, NULL, NULL, &emsg) != SQLITE_OK)
        goto fail;
    if (journal_refresh_oldest(j) != 0)
        return -1;
    return removed;
fail:
    snprintf(j->errmsg, sizeof(j->errmsg), "%s: cannot prune: %s", j->path,
             emsg != NULL ? emsg : sqlite3_errmsg(j->db));
    sqlite3_free(emsg);
    return -1;
}

/*
 * store.c - persistent daemon state in SQLite (see store.h).
 *
 * The statements used on every poll are prepared once at open and reset
 * after each use.  Any failure leaves a message in st->errmsg naming the
 * database file, so the daemons can log it as is.
 */
#include "store.h"

#include <assert.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_FOREVER "9223372036854775807"
/* Checkpoint (and fsync) the WAL after this many pages (16 MB with 4 KiB
 * pages) instead of SQLite's 1000: a busy fetcher commits once per feed,
 * and each checkpoint waits for the disk.  store_checkpoint() runs one
 * when the daemon is idle. */
#define STORE_WAL_PAGES "4096"
/* Page cache: 16 MB (SQLite's default is 2 MB) keeps the seen set's and
 * the outbox's hot pages of a busy fetcher in memory.  temp_store=MEMORY:
 * the journals of savepoints and statements (the fetcher's per-document
 * savepoints, store_savepoint) stay in memory instead of spilling to a
 * temporary file (they were half of the fetcher's writes). */
#define STORE_CACHE_KIB "-16384"

enum store_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_FEED_GET,
    ST_FEED_PUT,
    ST_SEEN_HAS,
    ST_SEEN_KNOWN,
    ST_SEEN_ADD,
    ST_SEEN_TOUCH,
    ST_HASH_TOUCH,
    ST_HASH_ADD,
    ST_SEEN_PRUNE_ONE,
    ST_SEEN_PRUNE_ALL,
    ST_HASH_PRUNE_ONE,
    ST_HASH_PRUNE_ALL,
    ST_COUNTER_NEXT,
    ST_COUNTER_GET,
    ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_part",
    [ST_RELEASE] = "RELEASE store_part",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_part",
    [ST_FEED_GET] = "SELECT etag, last_modified, last_ok, last_error, failures,"
                    " next_poll, items_seen, last_error_at, doc_at FROM feeds WHERE url = ?1",
    /* an update in place (INSERT OR REPLACE would delete the row and
     * insert it under a new rowid: two more b-tree writes, more pages) */
    [ST_FEED_PUT] = "INSERT INTO feeds(url, etag, last_modified, last_ok,"
                    " last_error, failures, next_poll, items_seen, last_error_at, doc_at)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                    " ON CONFLICT(url) DO UPDATE SET etag = ?2, last_modified = ?3,"
                    " last_ok = ?4, last_error = ?5, failures = ?6, next_poll = ?7,"
                    " items_seen = ?8, last_error_at = ?9, doc_at = ?10",
    [ST_SEEN_HAS] = "SELECT 1 FROM seen WHERE feed = ?1 AND id = ?2",
    [ST_SEEN_KNOWN] = "SELECT EXISTS(SELECT 1 FROM seen WHERE feed = ?1)"
                      " OR EXISTS(SELECT 1 FROM seen_hash WHERE feed = ?1)",
    [ST_SEEN_ADD] = "INSERT OR IGNORE INTO seen(feed, id, first_seen, last_seen)"
                    " VALUES(?1, ?2, ?3, ?3)",
    [ST_SEEN_TOUCH] = "UPDATE seen SET last_seen = max(last_seen, ?3) WHERE feed = ?1 AND id = ?2",
    [ST_HASH_TOUCH] = "UPDATE seen_hash SET last_seen = max(last_seen, ?3)"
                      " WHERE feed = ?1 AND hash = ?2",
    [ST_HASH_ADD] = "INSERT INTO seen_hash(feed, hash, last_seen) VALUES(?1, ?2, ?3)"
                    " ON CONFLICT(feed, hash) DO UPDATE SET last_seen = max(last_seen, ?3)",
    /* an entry of the latest document (last_seen >= doc_at) always stays */
    [ST_SEEN_PRUNE_ONE] = "DELETE FROM seen WHERE feed = ?1 AND last_seen < ?2 AND last_seen <"
                          " coalesce((SELECT doc_at FROM feeds WHERE url = ?1), " STORE_FOREVER ")",
    [ST_SEEN_PRUNE_ALL] = "DELETE FROM seen WHERE last_seen < ?1 AND last_seen <"
                          " coalesce((SELECT doc_at FROM feeds WHERE url = seen.feed), "
                          STORE_FOREVER ")",
    [ST_HASH_PRUNE_ONE] = "DELETE FROM seen_hash WHERE feed = ?1 AND last_seen < ?2 AND"
                          " last_seen < coalesce((SELECT doc_at FROM feeds WHERE url = ?1), "
                          STORE_FOREVER ")",
    [ST_HASH_PRUNE_ALL] = "DELETE FROM seen_hash WHERE last_seen < ?1 AND last_seen <"
                          " coalesce((SELECT doc_at FROM feeds WHERE url = seen_hash.feed), "
                          STORE_FOREVER ")",
    [ST_COUNTER_NEXT] = "INSERT INTO counters(name, value) VALUES(?1, 1)"
                        " ON CONFLICT(name) DO UPDATE SET value = value + 1"
                        " RETURNING value",
    [ST_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
};

/* The current schema, for a new file (a version-1 file keeps its tables
 * and is upgraded by store_upgrade_v1 before store_schema_v2 runs). */
static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS feeds("
    "  url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
    "  last_ok INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    "  failures INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL DEFAULT 0,"
    "  items_seen INTEGER NOT NULL DEFAULT 0,"
    "  last_error_at INTEGER NOT NULL DEFAULT 0, doc_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS seen("
    "  feed TEXT NOT NULL, id TEXT NOT NULL, first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(feed, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS counters("
    "  name TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* What version 2 added: last_error_at, doc_at, seen.last_seen, seen_hash. */
static const char store_upgrade_v1[] =
    "ALTER TABLE feeds ADD COLUMN last_error_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE feeds ADD COLUMN doc_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE seen ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;"
    "UPDATE seen SET last_seen = first_seen;"
    "DROP INDEX IF EXISTS seen_first;"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';";

/* No index on last_seen: every fetched document refreshes it, and the
 * hourly prune is cheaper as a scan than an index kept on every write. */
static const char store_schema_v2[] =
    "CREATE TABLE IF NOT EXISTS seen_hash("
    "  feed TEXT NOT NULL, hash INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    "  PRIMARY KEY(feed, hash)) WITHOUT ROWID;";

/* store_seen_record_many() writes up to this many items in one statement
 * of each table (a statement's fixed cost is about that of writing a row). */
#define STORE_BATCH 16

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[ST_COUNT];
    /* [k]: k rows into seen (?1 feed, ?2 now, ?3... ids) and into seen_hash
     * (?3... hashes), prepared when first needed */
    sqlite3_stmt *seen_batch[STORE_BATCH + 1];
    sqlite3_stmt *hash_batch[STORE_BATCH + 1];
    char errmsg[1024];
};

/* Record "<path>: <what>: <sqlite message>" as the last error; returns -1. */
static int store_fail(struct store *st, const char *what)
{
    snprintf(st->errmsg, sizeof(st->errmsg), "%s: %s: %s", st->path, what,
             st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
    return -1;
}

/* The prepared statement `which`, reset and with its bindings cleared. */
static sqlite3_stmt *store_stmt(struct store *st, enum store_stmt which)
{
    sqlite3_stmt *s = st->stmt[which];

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Bind a text (NULL binds SQL NULL); returns the sqlite result code.  No
 * copy: every caller steps the statement before v can change, and
 * store_stmt() clears the bindings before the next use. */
static int store_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (v == NULL)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
}

/* Run a statement that returns no row the caller needs. */
static int store_exec_stmt(struct store *st, enum store_stmt which, const char *what)
{
    sqlite3_stmt *s = store_stmt(st, which);
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_fail(st, what);
    return 0;
}

/* Read the schema version into *version, inserting the current one in a
 * new database (unless readonly).  Returns 0, or -1 with *err. */
static int store_read_version(struct store *st, int readonly, long long *version,
                              na_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = SQLITE_OK;

    *version = -1;
    if (!readonly) {
        rc = sqlite3_prepare_v2(st->db,
                                "INSERT OR IGNORE INTO meta(key, value)"
                                " VALUES('schema_version', ?1)",
                                -1, &s, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 1, STORE_SCHEMA_VERSION);
        if (rc == SQLITE_OK && sqlite3_step(s) != SQLITE_DONE)
            rc = SQLITE_ERROR;
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema_version'",
                                -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        char *end = NULL;

        if (v != NULL)
            *version = strtoll(v, &end, 10);
        if (v == NULL || end == v || *end != '\0')
            *version = -1;
    } else {
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot read the schema version: %s", st->path,
                     sqlite3_errmsg(st->db));
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    if (*version < 1)
        return na_error_set(err, 0, 0, "%s: invalid schema version in table meta", st->path);
    if (*version > STORE_SCHEMA_VERSION)
        return na_error_set(err, 0, 0,
                            "%s: schema version %lld is newer than this program's (%d)",
                            st->path, *version, STORE_SCHEMA_VERSION);
    return 0;
}

/* Run a script of statements; returns 0, or -1 with *err saying `what`. */
static int store_exec_script(struct store *st, const char *sql, const char *what,
                             na_error *err)
{
    char *emsg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &emsg);

    if (rc == SQLITE_OK)
        return 0;
    na_error_set(err, 0, 0, "%s: %s: %s", st->path, what,
                 emsg != NULL ? emsg : sqlite3_errstr(rc));
    sqlite3_free(emsg);
    return -1;
}

/* Bring the schema to STORE_SCHEMA_VERSION (creating it in a new file) in
 * one transaction.  Returns 0, or -1 with *err. */
static int store_setup_schema(struct store *st, na_error *err)
{
    long long version;

    if (store_exec_script(st, "BEGIN IMMEDIATE", "cannot open state database", err) != 0)
        return -1;
    if (store_exec_script(st, store_schema, "cannot open state database", err) != 0 ||
        store_read_version(st, 0, &version, err) != 0 ||
        (version == 1 &&
         store_exec_script(st, store_upgrade_v1, "cannot upgrade the schema", err) != 0) ||
        store_exec_script(st, store_schema_v2, "cannot open state database", err) != 0 ||
        store_exec_script(st, "COMMIT", "cannot open state database", err) != 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int store_open_mode(const char *path, int readonly, struct store **out, na_error *err)
{
    struct store *st;
    long long version;
    int rc, i;

    *out = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        return na_error_set(err, 0, 0, "%s: out of memory", path);
    }
    rc = sqlite3_open_v2(path, &st->db,
                         (readonly ? SQLITE_OPEN_READONLY
                                   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                             SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: cannot open state database: %s", path,
                     st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    /* The first statement reads the header: a file that is not a database
     * fails here with SQLITE_NOTADB. */
    if (readonly) {
        if (store_exec_script(st, "PRAGMA query_only=ON", "cannot open state database",
                              err) != 0 ||
            store_read_version(st, 1, &version, err) != 0)
            goto fail;
        if (version < STORE_SCHEMA_VERSION) {
            na_error_set(err, 0, 0,
                         "%s: schema version %lld is older than this program's (%d): "
                         "start newsalert-fetcher once to upgrade it",
                         path, version, STORE_SCHEMA_VERSION);
            goto fail;
        }
    } else if (store_exec_script(st,
                                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 " PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint="
                                 STORE_WAL_PAGES "; PRAGMA cache_size=" STORE_CACHE_KIB
                                 "; PRAGMA temp_store=MEMORY;",
                                 "cannot open state database", err) != 0 ||
               store_setup_schema(st, err) != 0) {
        goto fail;
    }
    for (i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &st->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            na_error_set(err, 0, 0, "%s: unexpected database layout: %s", path,
                         sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    *out = st;
    return 0;

fail:
    store_close(&st);
    return -1;
}

int store_open(const char *path, struct store **out, na_error *err)
{
    return store_open_mode(path, 0, out, err);
}

int store_open_readonly(const char *path, struct store **out, na_error *err)
{
    return store_open_mode(path, 1, out, err);
}

void store_close(struct store **pst)
{
    struct store *st;
    int i;

    if (pst == NULL || *pst == NULL)
        return;
    st = *pst;
    *pst = NULL;
    if (st->db != NULL && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    for (i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    for (i = 0; i <= STORE_BATCH; i++) {
        sqlite3_finalize(st->seen_batch[i]);
        sqlite3_finalize(st->hash_batch[i]);
    }
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

struct sqlite3 *store_sqlite(struct store *st)
{
    return st->db;
}

const char *store_errmsg(const struct store *st)
{
    return st->errmsg;
}

int store_checkpoint(struct store *st)
{
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        return store_fail(st, "cannot checkpoint");
    return 0;
}

int store_begin(struct store *st)
{
    return store_exec_stmt(st, ST_BEGIN, "cannot begin a transaction");
}

int store_commit(struct store *st)
{
    return store_exec_stmt(st, ST_COMMIT, "cannot commit");
}

int store_rollback(struct store *st)
{
    if (sqlite3_get_autocommit(st->db))
        return 0; /* already rolled back by sqlite after an error */
    return store_exec_stmt(st, ST_ROLLBACK, "cannot roll back");
}

int store_in_transaction(const struct store *st)
{
    return !sqlite3_get_autocommit(st->db);
}

int store_savepoint(struct store *st)
{
    if (sqlite3_get_autocommit(st->db)) {
        snprintf(st->errmsg, sizeof(st->errmsg), "%s: no transaction is open", st->path);
        return -1;
    }
    return store_exec_stmt(st, ST_SAVEPOINT, "cannot open a savepoint");
}

int store_release(struct store *st)
{
    return store_exec_stmt(st, ST_RELEASE, "cannot release a savepoint");
}

int store_rollback_to(struct store *st)
{
    if (sqlite3_get_autocommit(st->db)) {
        snprintf(st->errmsg, sizeof(st->errmsg),
                 "%s: the transaction was rolled back by an earlier error", st->path);
        return -1;
    }
    if (store_exec_stmt(st, ST_ROLLBACK_TO, "cannot roll back to a savepoint") != 0)
        return -1;
    return store_exec_stmt(st, ST_RELEASE, "cannot release a savepoint");
}

void store_feed_state_clear(struct store_feed_state *fs)
{
    if (fs == NULL)
        return;
    free(fs->url);
    free(fs->etag);
    free(fs->last_modified);
    free(fs->last_error);
    memset(fs, 0, sizeof(*fs));
}

/* strdup of a column, NULL for SQL NULL; sets *oom when the copy fails. */
static char *store_column_dup(sqlite3_stmt *s, int col, int *oom)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    char *copy;

    if (v == NULL)
        return NULL;
    copy = strdup((const char *)v);
    if (copy == NULL)
        *oom = 1;
    return copy;
}

int store_feed_get(struct store *st, const char *url, struct store_feed_state *out)
{
    sqlite3_stmt *s = store_stmt(st, ST_FEED_GET);
    int rc, oom = 0, found = 0;

    memset(out, 0, sizeof(*out));
    out->url = strdup(url);
    if (out->url == NULL) {
        snprintf(st->errmsg, sizeof(st->errmsg), "%s: out of memory", st->path);
        return -1;
    }
    if (store_bind_text(s, 1, url) != SQLITE_OK) {
        store_feed_state_clear(out);
        return store_fail(st, "cannot read feed state");
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        found = 1;
        out->etag = store_column_dup(s, 0, &oom);
        out->last_modified = store_column_dup(s, 1, &oom);
        out->last_ok = sqlite3_column_int64(s, 2);
        out->last_error = store_column_dup(s, 3, &oom);
        out->failures = sqlite3_column_int(s, 4);
        out->next_poll = sqlite3_column_int64(s, 5);
        out->items_seen = sqlite3_column_int64(s, 6);
        out->last_error_at = sqlite3_column_int64(s, 7);
        out->doc_at = sqlite3_column_int64(s, 8);
    } else if (rc != SQLITE_DONE) {
        store_fail(st, "cannot read feed state");
        sqlite3_reset(s);
        store_feed_state_clear(out);
        return -1;
    }
    sqlite3_reset(s);
    if (oom) {
        store_feed_state_clear(out);
        snprintf(st->errmsg, sizeof(st->errmsg), "%s: out of memory", st->path);
        return -1;
    }
    return found;
}

int store_feed_put(struct store *st, const struct store_feed_state *fs)
{
    sqlite3_stmt *s = store_stmt(st, ST_FEED_PUT);
    int rc;

    rc = store_bind_text(s, 1, fs->url);
    if (rc == SQLITE_OK)
        rc = store_bind_text(s, 2, fs->etag);
    if (rc == SQLITE_OK)
        rc = store_bind_text(s, 3, fs->last_modified);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 4, fs->last_ok);
    if (rc == SQLITE_OK)
        rc = store_bind_text(s, 5, fs->last_error);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 6, fs->failures);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 7, fs->next_poll);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, fs->items_seen);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 9, fs->last_error_at);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 10, fs->doc_at);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot write feed state");
    return 0;
}

int store_seen_has(struct store *st, const char *feed_url, const char *item_id)
{
    sqlite3_stmt *s = store_stmt(st, ST_SEEN_HAS);
    int rc;

    rc = store_bind_text(s, 1, feed_url);
    if (rc == SQLITE_OK)
        rc = store_bind_text(s, 2, item_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return store_fail(st, "cannot look up a seen item");
}

int store_seen_known(struct store *st, const char *feed_url)
{
    sqlite3_stmt *s = store_stmt(st, ST_SEEN_KNOWN);
    int rc, known = 0;

    rc = store_bind_text(s, 1, feed_url);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        known = sqlite3_column_int(s, 0) != 0;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot look up a seen item");
    return known;
}

const char *store_feed_status(const struct store_feed_state *fs)
{
    if (fs->failures >= STORE_FAILING_AFTER)
        return "failing";
    if (fs->failures > 0)
        return "retrying";
    if (fs->last_ok == 0)
        return "never polled";
    return "ok";
}

/* Run a statement of the seen set keyed by (feed, id) or (feed, hash) with
 * ?3 = now; returns the rows changed, or -1. */
static int store_seen_touch(struct store *st, enum store_stmt which, const char *feed_url,
                            const char *item_id, uint64_t hash, int64_t now)
{
    sqlite3_stmt *s = store_stmt(st, which);
    int rc;

    rc = store_bind_text(s, 1, feed_url);
    if (rc == SQLITE_OK)
        rc = item_id != NULL ? store_bind_text(s, 2, item_id)
                             : sqlite3_bind_int64(s, 2, (sqlite3_int64)hash);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 3, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot update the seen set");
    return sqlite3_changes(st->db);
}

int store_seen_add(struct store *st, const char *feed_url, const char *item_id, int64_t now)
{
    int n = store_seen_touch(st, ST_SEEN_ADD, feed_url, item_id, 0, now);

    return n < 0 ? -1 : n > 0;
}

int store_seen_check(struct store *st, const char *feed_url, const char *item_id,
                     uint64_t hash, int64_t now)
{
    int n = store_seen_touch(st, ST_SEEN_TOUCH, feed_url, item_id, 0, now);

    if (n != 0)
        return n < 0 ? -1 : 1;
    if (hash == 0)
        return 0;
    n = store_seen_touch(st, ST_HASH_TOUCH, feed_url, NULL, hash, now);
    if (n != 0)
        return n < 0 ? -1 : 2;
    return 0;
}

int store_seen_record(struct store *st, const char *feed_url, const char *item_id,
                      uint64_t hash, int64_t now)
{
    int added = store_seen_add(st, feed_url, item_id, now);

    if (added < 0 || hash == 0)
        return added;
    if (store_seen_touch(st, ST_HASH_ADD, feed_url, NULL, hash, now) < 0)
        return -1;
    return added;
}

/* The statement writing k (1..STORE_BATCH) rows into seen (hash: into
 * seen_hash), prepared on first use; NULL on error (st->errmsg). */
static sqlite3_stmt *store_batch(struct store *st, int hash, size_t k)
{
    sqlite3_stmt **slot = hash ? &st->hash_batch[k] : &st->seen_batch[k];
    char sql[1024];
    size_t len;
    int n;

    assert(k >= 1 && k <= STORE_BATCH);
    if (*slot != NULL)
        return *slot;
    len = (size_t)snprintf(sql, sizeof(sql), "%s",
                           hash ? "INSERT INTO seen_hash(feed, hash, last_seen) VALUES"
                                : "INSERT OR IGNORE INTO seen(feed, id, first_seen, last_seen)"
                                  " VALUES");
    for (size_t i = 0; i < k; i++) {
        n = snprintf(sql + len, sizeof(sql) - len,
                     hash ? "%s(?1, ?%zu, ?2)" : "%s(?1, ?%zu, ?2, ?2)", i > 0 ? ", " : "",
                     i + 3);
        assert(n > 0 && (size_t)n < sizeof(sql) - len);
        len += (size_t)n;
    }
    if (hash) {
        n = snprintf(sql + len, sizeof(sql) - len,
                     " ON CONFLICT(feed, hash) DO UPDATE SET last_seen = max(last_seen, ?2)");
        assert(n > 0 && (size_t)n < sizeof(sql) - len);
    }
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        store_fail(st, "cannot update the seen set");
        return NULL;
    }
    return *slot;
}

/* Step batch statement s, whose ?3... are bound, with ?1 feed, ?2 now. */
static int store_batch_step(struct store *st, sqlite3_stmt *s, const char *feed_url, int64_t now)
{
    int rc = store_bind_text(s, 1, feed_url);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 2, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot update the seen set");
    return 0;
}

int store_seen_record_many(struct store *st, const char *feed_url, const char *const *ids,
                           const uint64_t *hashes, size_t n, int64_t now)
{
    size_t i, k, nh = 0, done;
    sqlite3_stmt *s;
    int rc = SQLITE_OK;

    /* the ids, up to STORE_BATCH a statement */
    for (i = 0; i < n; i += k) {
        k = n - i < STORE_BATCH ? n - i : STORE_BATCH;
        if ((s = store_batch(st, 0, k)) == NULL)
            return -1;
        for (size_t j = 0; j < k && rc == SQLITE_OK; j++)
            rc = store_bind_text(s, (int)j + 3, ids[i + j]);
        if (rc != SQLITE_OK) {
            sqlite3_clear_bindings(s);
            return store_fail(st, "cannot update the seen set");
        }
        if (store_batch_step(st, s, feed_url, now) != 0)
            return -1;
    }
    /* the content hashes (0: none), the same way */
    for (i = 0; i < n; i++)
        nh += hashes[i] != 0;
    for (i = 0, done = 0; done < nh; done += k) {
        k = nh - done < STORE_BATCH ? nh - done : STORE_BATCH;
        if ((s = store_batch(st, 1, k)) == NULL)
            return -1;
        for (size_t j = 0; j < k && rc == SQLITE_OK; i++) {
            if (hashes[i] != 0)
                rc = sqlite3_bind_int64(s, (int)j++ + 3, (sqlite3_int64)hashes[i]);
        }
        if (rc != SQLITE_OK) {
            sqlite3_clear_bindings(s);
            return store_fail(st, "cannot update the seen set");
        }
        if (store_batch_step(st, s, feed_url, now) != 0)
            return -1;
    }
    return 0;
}

/* One prune statement; returns the rows deleted or -1. */
static int64_t store_prune_one(struct store *st, enum store_stmt which, const char *feed_url,
                               int64_t before)
{
    sqlite3_stmt *s = store_stmt(st, which);
    int rc;

    if (feed_url != NULL) {
        rc = store_bind_text(s, 1, feed_url);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(s, 2, before);
    } else {
        rc = sqlite3_bind_int64(s, 1, before);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot prune seen items");
    return sqlite3_changes64(st->db);
}

int64_t store_seen_prune(struct store *st, const char *feed_url, int64_t before)
{
    int64_t ids, hashes;

    ids = store_prune_one(st, feed_url != NULL ? ST_SEEN_PRUNE_ONE : ST_SEEN_PRUNE_ALL,
                          feed_url, before);
    if (ids < 0)
        return -1;
    hashes = store_prune_one(st, feed_url != NULL ? ST_HASH_PRUNE_ONE : ST_HASH_PRUNE_ALL,
                             feed_url, before);
    if (hashes < 0)
        return -1;
    return ids + hashes;
}

int store_counter_next(struct store *st, const char *name, int64_t *out)
{
    sqlite3_stmt *s = store_stmt(st, ST_COUNTER_NEXT);
    int rc;

    rc = store_bind_text(s, 1, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s); /* finish the statement so the write commits */
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot advance a counter");
    return 0;
}

int store_counter_get(struct store *st, const char *name, int64_t *out)
{
    sqlite3_stmt *s = store_stmt(st, ST_COUNTER_GET);
    int rc;

    rc = store_bind_text(s, 1, name);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, "cannot read a counter");
    return 0;
}

/*
 * cursor.c - sink cursors in SQLite (see cursor.h).
 */
#include "cursor.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

#define CURSOR_BUSY_MS 5000

struct cursors {
    sqlite3 *db;
    sqlite3_stmt *get;
    sqlite3_stmt *set;
    pthread_mutex_t lock;
    char path[4096];
};

static const char cursor_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS cursors ("
    "  sink TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL DEFAULT (strftime('%s','now')));";

int cursors_open(const char *state_dir, struct cursors **out, na_error *err)
{
    struct cursors *c = calloc(1, sizeof(*c));
    char *msg = NULL;

    *out = NULL;
    if (c == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    snprintf(c->path, sizeof(c->path), "%s/notifier.db", state_dir);
    if (daemon_mkdirs(state_dir) != 0) {
        na_error_set(err, 0, 0, "cannot create the state directory '%s'", state_dir);
        goto fail;
    }
    if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(c->db, CURSOR_BUSY_MS) != SQLITE_OK ||
        sqlite3_exec(c->db, cursor_schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "SELECT seq FROM cursors WHERE sink = ?1", -1, &c->get,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "INSERT INTO cursors(sink, seq) VALUES(?1, ?2) "
                           "ON CONFLICT(sink) DO UPDATE SET seq = excluded.seq, "
                           "updated = strftime('%s','now')",
                           -1, &c->set, NULL) != SQLITE_OK) {
        na_error_set(err, 0, 0, "%s: %s", c->path,
                     msg != NULL ? msg : c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_free(msg);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    cursors_close(&c);
    return -1;
}

void cursors_close(struct cursors **pc)
{
    struct cursors *c = *pc;

    if (c == NULL)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->set);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *pc = NULL;
}

int cursors_get(struct cursors *c, const char *name, int64_t *seq)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    sqlite3_bind_text(c->get, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(c->get);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(c->get, 0);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        log_error("%s: cannot read the cursor of sink %s: %s", c->path, name,
                  sqlite3_errmsg(c->db));
        rc = -1;
    }
    sqlite3_reset(c->get);
    sqlite3_clear_bindings(c->get);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int cursors_set(struct cursors *c, const char *name, int64_t seq)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    sqlite3_bind_text(c->set, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->set, 2, seq);
    rc = sqlite3_step(c->set);
    if (rc != SQLITE_DONE)
        log_error("%s: cannot record the cursor of sink %s (alert %lld): %s", c->path, name,
                  (long long)seq, sqlite3_errmsg(c->db));
    sqlite3_reset(c->set);
    sqlite3_clear_bindings(c->set);
    pthread_mutex_unlock(&c->lock);
    return rc == SQLITE_DONE ? 0 : -1;
}

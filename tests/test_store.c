/*
 * test_store.c - the SQLite state store: schema, seen set, feed state,
 * counters across reopen, and refusal of files that are not databases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/na-test-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char p[160];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    size_t i;

    for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", fx->path, suffix[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static struct store *open_ok(const char *path)
{
    struct store *st = NULL;
    na_error err;

    na_error_clear(&err);
    if (store_open(path, &st, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    assert_non_null(st);
    return st;
}

/* Run a query with raw sqlite and return the first column of the first row
 * as an integer (-1 when no row), to check what store.c wrote. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_schema(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);

    store_close(&st);
    assert_null(st);
    store_close(&st); /* NULL-safe */
    assert_int_equal(raw_int(fx->path, "SELECT value FROM meta WHERE key='schema_version'"),
                     STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE type='table'"
                                       " AND name IN ('meta','feeds','seen','counters')"),
                     4);
    /* WAL mode is persistent in the file. */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;

        assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    /* Reopening an existing database works and keeps one version row. */
    st = open_ok(fx->path);
    store_close(&st);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM meta"), 1);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    sqlite3 *db = NULL;
    na_error err;

    store_close(&st);
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    na_error_clear(&err);
    assert_int_equal(store_open(fx->path, &st, &err), -1);
    assert_null(st);
    assert_non_null(strstr(err.msg, fx->path));
    assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

static void test_seen(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);

    assert_int_equal(store_seen_has(st, "http://a/feed", "id-1"), 0);
    assert_int_equal(store_seen_add(st, "http://a/feed", "id-1", 1000), 1);
    assert_int_equal(store_seen_add(st, "http://a/feed", "id-1", 1001), 0);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-1"), 1);
    /* Ids are per feed. */
    assert_int_equal(store_seen_has(st, "http://b/feed", "id-1"), 0);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-2"), 0);

    /* A rolled back batch leaves nothing; a committed one survives reopen. */
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_seen_add(st, "http://a/feed", "id-2", 2000), 1);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-2"), 0);
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_seen_add(st, "http://a/feed", "id-2", 2000), 1);
    assert_int_equal(store_seen_add(st, "http://b/feed", "id-3", 3000), 1);
    assert_int_equal(store_commit(st), 0);
    store_close(&st);

    st = open_ok(fx->path);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-1"), 1);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-2"), 1);
    assert_int_equal(store_seen_has(st, "http://b/feed", "id-3"), 1);

    /* Pruning by age, per feed and for all. */
    assert_int_equal(store_seen_prune(st, "http://a/feed", 1500), 1);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-1"), 0);
    assert_int_equal(store_seen_has(st, "http://a/feed", "id-2"), 1);
    assert_int_equal(store_seen_prune(st, NULL, 10000), 2);
    assert_int_equal(store_seen_has(st, "http://b/feed", "id-3"), 0);
    store_close(&st);
}

/* Content hashes: a feed that changes ids keeps being "seen" by content;
 * a check refreshes last_seen, so pruning drops only what the feed stopped
 * listing, never what its latest document holds. */
static void test_seen_hash_and_retention(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    struct store_feed_state fs;
    const char *a = "http://a/feed";

    assert_int_equal(store_seen_check(st, a, "guid-1", 0x1111, 100), 0);
    assert_int_equal(store_seen_record(st, a, "guid-1", 0x1111, 100), 1);
    assert_int_equal(store_seen_record(st, a, "guid-1", 0x1111, 100), 0);
    assert_int_equal(store_seen_check(st, a, "guid-1", 0x1111, 200), 1);
    /* same content under a new id: seen by hash; the new id is not recorded */
    assert_int_equal(store_seen_check(st, a, "guid-1-reissued", 0x1111, 200), 2);
    assert_int_equal(store_seen_has(st, a, "guid-1-reissued"), 0);
    /* a hash of 0 means "no content hash" */
    assert_int_equal(store_seen_check(st, a, "guid-2", 0, 200), 0);
    /* hashes are per feed; a hash above INT64_MAX round-trips */
    assert_int_equal(store_seen_check(st, "http://b/feed", "x", 0x1111, 200), 0);
    assert_int_equal(store_seen_record(st, a, "guid-3", UINT64_C(0xfedcba9876543210), 300), 1);
    assert_int_equal(store_seen_check(st, a, "other", UINT64_C(0xfedcba9876543210), 300), 2);
    assert_int_equal(raw_int(fx->path, "SELECT last_seen FROM seen WHERE id='guid-1'"), 200);
    assert_int_equal(raw_int(fx->path, "SELECT last_seen FROM seen_hash WHERE hash=4369"), 200);

    /* guid-1 (last seen 200) and guid-3 (300) both older than 1000: without a
     * feeds row everything old goes */
    assert_int_equal(store_seen_record(st, a, "guid-4", 0x4444, 900), 1);
    memset(&fs, 0, sizeof(fs));
    fs.url = (char *)a;
    fs.doc_at = 300; /* the latest document was read at 300: guid-3 is in it */
    fs.last_ok = 300;
    assert_int_equal(store_feed_put(st, &fs), 0);
    /* before 1000: guid-1 and hash 0x1111 go; guid-3 (latest doc) and its
     * hash stay; guid-4 (900 >= doc_at) stays */
    assert_int_equal(store_seen_prune(st, a, 1000), 2);
    assert_int_equal(store_seen_has(st, a, "guid-1"), 0);
    assert_int_equal(store_seen_check(st, a, "new", 0x1111, 1000), 0);
    assert_int_equal(store_seen_has(st, a, "guid-3"), 1);
    assert_int_equal(store_seen_has(st, a, "guid-4"), 1);
    /* once a newer document (read at 900, listing guid-4 only) no longer
     * lists guid-3, it can go */
    fs.doc_at = 900;
    assert_int_equal(store_feed_put(st, &fs), 0);
    assert_int_equal(store_seen_prune(st, NULL, 1000), 2);
    assert_int_equal(store_seen_has(st, a, "guid-3"), 0);
    assert_int_equal(store_seen_has(st, a, "guid-4"), 1);
    store_close(&st);
}

/* The rows of one feed in seen and seen_hash, one line each, as text. */
static void dump_seen(const char *path, const char *feed, char *out, size_t size)
{
    static const char *const sql[] = {
        "SELECT id, first_seen, last_seen FROM seen WHERE feed = ?1 ORDER BY id",
        "SELECT hash, last_seen FROM seen_hash WHERE feed = ?1 ORDER BY hash"};
    sqlite3 *db = NULL;
    size_t len = 0;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    out[0] = '\0';
    for (size_t q = 0; q < 2; q++) {
        sqlite3_stmt *s = NULL;

        assert_int_equal(sqlite3_prepare_v2(db, sql[q], -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_bind_text(s, 1, feed, -1, SQLITE_STATIC), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                int n = snprintf(out + len, size - len, "%s%s", c > 0 ? " " : "",
                                 (const char *)sqlite3_column_text(s, c));

                assert_true(n >= 0 && (size_t)n < size - len);
                len += (size_t)n;
            }
            assert_true(len + 2 < size);
            out[len++] = '\n';
            out[len] = '\0';
        }
        sqlite3_finalize(s);
        assert_true(len + 2 < size);
        out[len++] = '|';
        out[len] = '\0';
    }
    sqlite3_close(db);
}

/* store_seen_known: anything of the feed, an id or only a hash. */
static void test_seen_known(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    const char *a = "http://a/feed", *b = "http://b/feed";

    assert_int_equal(store_seen_known(st, a), 0);
    assert_int_equal(store_seen_record(st, a, "x", 0, 10), 1);
    assert_int_equal(store_seen_known(st, a), 1);
    assert_int_equal(store_seen_known(st, b), 0);
    assert_int_equal(store_seen_known(st, "http://a/fee"), 0); /* no prefix match */
    /* only a content hash left (its id pruned): still known */
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM seen_hash"), 0);
    assert_int_equal(sqlite3_exec(store_sqlite(st),
                                  "INSERT INTO seen_hash VALUES('http://b/feed', 7, 10)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store_seen_known(st, b), 1);
    /* everything pruned: unknown again */
    assert_int_equal(store_seen_prune(st, NULL, 100), 2);
    assert_int_equal(store_seen_known(st, a), 0);
    assert_int_equal(store_seen_known(st, b), 0);
    store_close(&st);
}

/* store_seen_record_many writes what store_seen_record does one by one,
 * whatever the count (below, at and above a batch; hashes of 0, repeated
 * hashes and ids, non-ASCII and odd bytes in ids), also over rows that
 * are there already; the statements stay usable after an error. */
static void test_seen_record_many(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    static const size_t counts[] = {0, 1, 2, 15, 16, 17, 33, 100};
    static char one[16384], many[16384];
    char idbuf[100][32];
    const char *ids[100];
    uint64_t hashes[100];

    for (size_t i = 0; i < 100; i++) {
        snprintf(idbuf[i], sizeof(idbuf[i]), i % 7 == 3 ? "\xc3\xa9t\xc3\xa9-%zu" : "id-%zu",
                 i % 41); /* ids repeat from 41 on */
        if (i % 13 == 5)
            idbuf[i][0] = (char)0xff; /* not UTF-8: stored as given */
        ids[i] = idbuf[i];
        hashes[i] = i % 5 == 0 ? 0 : i % 9 == 0 ? UINT64_C(0xfedcba9876543210) : 1000 + i;
    }
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        char fa[64], fb[64];
        size_t n = counts[c];

        snprintf(fa, sizeof(fa), "http://one/%zu", n);
        snprintf(fb, sizeof(fb), "http://many/%zu", n);
        /* an existing row with an older time: both keep it as it was */
        assert_int_equal(store_seen_record(st, fa, "id-1", 1001, 5), 1);
        assert_int_equal(store_seen_record(st, fb, "id-1", 1001, 5), 1);
        assert_int_equal(store_begin(st), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(store_seen_record(st, fa, ids[i], hashes[i], 50) >= 0);
        assert_int_equal(store_seen_record_many(st, fb, ids, hashes, n, 50), 0);
        assert_int_equal(store_commit(st), 0);
        dump_seen(fx->path, fa, one, sizeof(one));
        dump_seen(fx->path, fb, many, sizeof(many));
        assert_string_equal(one, many);
        if (n >= 17)
            assert_non_null(strstr(many, "id-16 50 50\n"));
    }
    /* outside a transaction it still works (autocommit) */
    assert_int_equal(store_seen_record_many(st, "http://c", ids, hashes, 3, 60), 0);
    assert_int_equal(store_seen_has(st, "http://c", "id-2"), 1);
    store_close(&st);

    /* read-only: a clear error, no crash */
    {
        na_error err;

        na_error_clear(&err);
        assert_int_equal(store_open_readonly(fx->path, &st, &err), 0);
        assert_int_equal(store_seen_record_many(st, "http://c", ids, hashes, 20, 70), -1);
        assert_non_null(strstr(store_errmsg(st), fx->path));
        assert_int_equal(store_seen_known(st, "http://c"), 1);
        store_close(&st);
    }
}

/* A database written by the previous version of the fetcher (schema 2, its
 * page size and rows) opens and goes on working with the seen-set calls
 * added since. */
static void test_previous_version_file(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL;
    sqlite3 *db = NULL;
    const char *ids[2] = {"new-1", "old-id"};
    uint64_t hashes[2] = {77, 5};

    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES('schema_version', '2');"
                     "CREATE TABLE feeds(url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
                     " last_ok INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
                     " failures INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL DEFAULT 0,"
                     " items_seen INTEGER NOT NULL DEFAULT 0,"
                     " last_error_at INTEGER NOT NULL DEFAULT 0,"
                     " doc_at INTEGER NOT NULL DEFAULT 0);"
                     "CREATE TABLE seen(feed TEXT NOT NULL, id TEXT NOT NULL,"
                     " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0,"
                     " PRIMARY KEY(feed, id)) WITHOUT ROWID;"
                     "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                     "CREATE TABLE seen_hash(feed TEXT NOT NULL, hash INTEGER NOT NULL,"
                     " last_seen INTEGER NOT NULL, PRIMARY KEY(feed, hash)) WITHOUT ROWID;"
                     "INSERT INTO feeds(url, last_ok, items_seen, doc_at)"
                     " VALUES('http://x', 5, 1, 5);"
                     "INSERT INTO seen VALUES('http://x', 'old-id', 5, 5);"
                     "INSERT INTO seen_hash VALUES('http://x', 5, 5);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_ok(fx->path);
    assert_int_equal(store_seen_known(st, "http://x"), 1);
    assert_int_equal(store_seen_known(st, "http://y"), 0);
    assert_int_equal(store_seen_record_many(st, "http://x", ids, hashes, 2, 9), 0);
    assert_int_equal(store_seen_check(st, "http://x", "new-1", 0, 10), 1);
    assert_int_equal(store_seen_check(st, "http://x", "other", 77, 10), 2);
    /* the existing row kept its first_seen; last_seen only moves forward */
    assert_int_equal(raw_int(fx->path, "SELECT first_seen FROM seen WHERE id='old-id'"), 5);
    assert_int_equal(raw_int(fx->path, "SELECT last_seen FROM seen_hash WHERE hash=5"), 9);
    assert_int_equal(raw_int(fx->path, "SELECT value FROM meta WHERE key='schema_version'"), 2);
    /* its feed row is updated in place: every column, none left behind */
    {
        struct store_feed_state fs, got;

        memset(&fs, 0, sizeof(fs));
        fs.url = "http://x";
        fs.etag = "\"e\"";
        fs.last_error = "HTTP 500";
        fs.failures = 2;
        fs.last_error_at = 8;
        fs.next_poll = 99;
        fs.items_seen = 3;
        assert_int_equal(store_feed_put(st, &fs), 0);
        assert_int_equal(store_feed_get(st, "http://x", &got), 1);
        assert_string_equal(got.etag, "\"e\"");
        assert_null(got.last_modified);
        assert_int_equal(got.last_ok, 0);
        assert_string_equal(got.last_error, "HTTP 500");
        assert_int_equal(got.failures, 2);
        assert_int_equal(got.next_poll, 99);
        assert_int_equal(got.items_seen, 3);
        assert_int_equal(got.last_error_at, 8);
        assert_int_equal(got.doc_at, 0);
        store_feed_state_clear(&got);
        assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM feeds"), 1);
    }
    store_close(&st);
}

/* A version-1 file (the first release) is upgraded in place. */
static void test_upgrade_v1(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL;
    struct store_feed_state got;
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES('schema_version', '1');"
                     "CREATE TABLE feeds(url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
                     " last_ok INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
                     " failures INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL"
                     " DEFAULT 0, items_seen INTEGER NOT NULL DEFAULT 0);"
                     "CREATE TABLE seen(feed TEXT NOT NULL, id TEXT NOT NULL,"
                     " first_seen INTEGER NOT NULL, PRIMARY KEY(feed, id)) WITHOUT ROWID;"
                     "CREATE INDEX seen_first ON seen(first_seen);"
                     "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                     "INSERT INTO feeds(url, last_ok, items_seen) VALUES('http://x', 5, 7);"
                     "INSERT INTO seen VALUES('http://x', 'old-id', 42);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_ok(fx->path);
    assert_int_equal(raw_int(fx->path, "SELECT value FROM meta WHERE key='schema_version'"), 2);
    assert_int_equal(store_feed_get(st, "http://x", &got), 1);
    assert_int_equal(got.last_ok, 5);
    assert_int_equal(got.items_seen, 7);
    assert_int_equal(got.doc_at, 0);
    store_feed_state_clear(&got);
    assert_int_equal(store_seen_check(st, "http://x", "old-id", 0, 50), 1);
    assert_int_equal(raw_int(fx->path, "SELECT last_seen FROM seen"), 50);
    store_close(&st);
}

/* The CLI's view: read-only, refuses a missing file and an old schema,
 * cannot write; and the status words. */
static void test_readonly_and_status(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL, *ro = NULL;
    struct store_feed_state fs, got;
    na_error err;

    na_error_clear(&err);
    assert_int_equal(store_open_readonly(fx->path, &ro, &err), -1);
    assert_null(ro);
    assert_non_null(strstr(err.msg, fx->path));

    st = open_ok(fx->path);
    memset(&fs, 0, sizeof(fs));
    fs.url = "http://x/rss";
    assert_string_equal(store_feed_status(&fs), "never polled");
    fs.failures = 1;
    fs.last_error = "HTTP status 500";
    fs.last_error_at = 77;
    assert_string_equal(store_feed_status(&fs), "retrying");
    fs.failures = STORE_FAILING_AFTER;
    assert_string_equal(store_feed_status(&fs), "failing");
    assert_int_equal(store_feed_put(st, &fs), 0);
    fs.failures = 0;
    fs.last_ok = 10;
    assert_string_equal(store_feed_status(&fs), "ok");

    /* the writer keeps the file open, as the daemon does */
    na_error_clear(&err);
    assert_int_equal(store_open_readonly(fx->path, &ro, &err), 0);
    assert_int_equal(store_feed_get(ro, "http://x/rss", &got), 1);
    assert_int_equal(got.failures, STORE_FAILING_AFTER);
    assert_int_equal(got.last_error_at, 77);
    assert_string_equal(got.last_error, "HTTP status 500");
    store_feed_state_clear(&got);
    assert_int_equal(store_seen_add(ro, "http://x/rss", "id", 1), -1);
    assert_non_null(strstr(store_errmsg(ro), fx->path));
    store_close(&ro);
    store_close(&st);

    /* an older schema: say how to upgrade */
    {
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value='1'", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
    na_error_clear(&err);
    assert_int_equal(store_open_readonly(fx->path, &ro, &err), -1);
    assert_non_null(strstr(err.msg, "older than this program's"));
}

static void test_commit_without_begin_fails(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);

    assert_int_equal(store_commit(st), -1);
    assert_non_null(strstr(store_errmsg(st), fx->path));
    assert_non_null(strstr(store_errmsg(st), "cannot commit"));
    store_close(&st);
}

static void test_feed_state(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    struct store_feed_state fs, got;

    assert_int_equal(store_feed_get(st, "http://x/rss", &got), 0);
    assert_string_equal(got.url, "http://x/rss");
    assert_null(got.etag);
    assert_int_equal(got.last_ok, 0);
    assert_int_equal(got.failures, 0);
    store_feed_state_clear(&got);

    memset(&fs, 0, sizeof(fs));
    fs.url = "http://x/rss";
    fs.etag = "\"abc\"";
    fs.last_modified = "Tue, 01 Oct 2024 10:00:00 GMT";
    fs.last_ok = 1727776800;
    fs.last_error = NULL;
    fs.failures = 0;
    fs.next_poll = 1727777100;
    fs.items_seen = 12;
    assert_int_equal(store_feed_put(st, &fs), 0);
    store_close(&st);

    st = open_ok(fx->path);
    assert_int_equal(store_feed_get(st, "http://x/rss", &got), 1);
    assert_string_equal(got.url, "http://x/rss");
    assert_string_equal(got.etag, "\"abc\"");
    assert_string_equal(got.last_modified, "Tue, 01 Oct 2024 10:00:00 GMT");
    assert_int_equal(got.last_ok, 1727776800);
    assert_null(got.last_error);
    assert_int_equal(got.next_poll, 1727777100);
    assert_int_equal(got.items_seen, 12);
    store_feed_state_clear(&got);
    assert_null(got.url);

    /* Replace: a failure clears validators and records the reason. */
    fs.etag = NULL;
    fs.last_modified = NULL;
    fs.last_error = "HTTP 503";
    fs.failures = 3;
    fs.next_poll = INT64_C(4102444800);
    assert_int_equal(store_feed_put(st, &fs), 0);
    assert_int_equal(store_feed_get(st, "http://x/rss", &got), 1);
    assert_null(got.etag);
    assert_null(got.last_modified);
    assert_string_equal(got.last_error, "HTTP 503");
    assert_int_equal(got.failures, 3);
    assert_true(got.next_poll == INT64_C(4102444800));
    store_feed_state_clear(&got);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM feeds"), 1);
    store_close(&st);
}

static void test_counter(void **state)
{
    struct fixture *fx = *state;
    struct store *st = open_ok(fx->path);
    int64_t v = -1, prev = 0;
    int round, i;

    assert_int_equal(store_counter_get(st, "seq", &v), 0);
    assert_int_equal(v, 0);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 5; i++) {
            assert_int_equal(store_counter_next(st, "seq", &v), 0);
            assert_true(v > prev);
            prev = v;
        }
        store_close(&st);
        st = open_ok(fx->path);
        assert_int_equal(store_counter_get(st, "seq", &v), 0);
        assert_true(v == prev);
    }
    assert_true(prev == 15);
    /* Counters are independent. */
    assert_int_equal(store_counter_next(st, "other", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_counter_get(st, "seq", &v), 0);
    assert_true(v == 15);
    store_close(&st);
}

static void test_not_a_database(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL;
    na_error err;
    FILE *f = fopen(fx->path, "w");
    int i;

    assert_non_null(f);
    for (i = 0; i < 200; i++)
        fputs("this is not an sqlite database, just text\n", f);
    fclose(f);
    na_error_clear(&err);
    assert_int_equal(store_open(fx->path, &st, &err), -1);
    assert_null(st);
    assert_non_null(strstr(err.msg, fx->path));
    assert_non_null(strstr(err.msg, "not a database"));
}

static void test_missing_directory(void **state)
{
    struct fixture *fx = *state;
    struct store *st = NULL;
    char p[200];
    na_error err;

    snprintf(p, sizeof(p), "%s/no/such/dir/state.db", fx->dir);
    na_error_clear(&err);
    assert_int_equal(store_open(p, &st, &err), -1);
    assert_null(st);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "cannot open state database"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_without_begin_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_hash_and_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_known, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_record_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_version_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * store.h - persistent daemon state in SQLite.
 *
 * One database file per daemon (e.g. state_dir/fetcher.db) holds what must
 * survive a restart: per-feed polling state (conditional-GET validators,
 * failures, next poll), the ids and content hashes of items already sent
 * (the seen set), and named counters (the matcher's alert `seq`).  The file
 * is opened in WAL mode with a busy timeout, so a reader such as the CLI
 * may look at it (store_open_readonly) while a daemon runs; the schema is
 * created when missing, carries a version row in `meta`, and a version-1
 * file is upgraded in place when opened for writing.
 *
 * The seen set: each entry (an item id, or a 64-bit content hash) carries
 * the time it was last found in a fetched document (`last_seen`).
 * store_seen_check() refreshes it, so pruning by age drops only what the
 * feed stopped listing long ago; and it never drops an entry of the feed's
 * latest document (one found at or after the feed's doc_at).
 *
 * Errors: store_open() fills a caller-owned na_error.  Every other function
 * returns a negative value on failure and store_errmsg() then tells why
 * (lower-case, no full stop, names the database file); the text stays valid
 * until the next call on the same store.  sqlite3 types never leave store.c
 * except the opaque connection pointer of store_sqlite().
 */
#ifndef NEWSALERT_STORE_H
#define NEWSALERT_STORE_H

#include <stdint.h>

#include "error.h"

#define STORE_SCHEMA_VERSION 2

/* The fetcher's database in state_dir (the daemon and `newsalert feeds`). */
#define STORE_FETCHER_DB_NAME "fetcher.db"

/* Consecutive failed polls after which a feed is reported as failing. */
#define STORE_FAILING_AFTER 3

struct store;

/* The polling state of one feed.  Strings are owned by the struct (free
 * them with store_feed_state_clear); NULL means "none". */
struct store_feed_state {
    char *url;
    char *etag;          /* validator sent back as If-None-Match */
    char *last_modified; /* validator sent back as If-Modified-Since */
    int64_t last_ok;     /* epoch seconds of the last successful poll, 0 = never */
    char *last_error;    /* reason of the last failure, NULL after a success */
    int failures;        /* consecutive failed polls */
    int64_t next_poll;   /* epoch seconds, 0 = as soon as possible */
    int64_t items_seen;  /* items recorded as seen for this feed, in total */
    int64_t last_error_at; /* epoch seconds of the last failure, 0 = never */
    int64_t doc_at;      /* epoch seconds the latest document (a 200) was read */
};

/* Open (creating if needed) the database at `path`.  The directory must
 * exist.  A file that is not an SQLite database, or that carries a newer
 * schema than STORE_SCHEMA_VERSION, is an error.  Returns 0 and *out, or -1
 * with *err set. */
int store_open(const char *path, struct store **out, na_error *err);

/* Open an existing database for reading only (the CLI, while the daemon
 * runs).  A missing file is an error (check for it first); an older or
 * newer schema is an error that says what to do.  Writing calls then fail.
 * Returns 0 and *out, or -1 with *err set. */
int store_open_readonly(const char *path, struct store **out, na_error *err);

/* Close *pst (rolling back an open transaction) and set it to NULL.
 * NULL-safe. */
void store_close(struct store **pst);

/* The SQLite connection of st, for a module that keeps its own tables in
 * the same database so that one store transaction covers them (handoff.c:
 * the outbox).  Such a module must not close it, and must finalize its
 * statements before store_close(). */
struct sqlite3 *store_sqlite(struct store *st);

/* Why the last failing call on st failed. */
const char *store_errmsg(const struct store *st);

/* Copy what the write-ahead log holds into the database file, if no
 * reader is in the way (a passive checkpoint); call it when idle.
 * Returns 0 or -1. */
int store_checkpoint(struct store *st);

/* Transactions group many writes into one commit (a batch of seen items
 * and the feed state that goes with them).  Not nestable. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

/* Savepoints inside an open transaction (not nestable either): the writes
 * of one part (one feed's document in the fetcher's per-turn transaction)
 * that must go or stay together.  store_savepoint() fails when no
 * transaction is open (also when SQLite rolled it back after an error);
 * store_release() keeps the part's writes in the transaction;
 * store_rollback_to() undoes them and ends the savepoint (the transaction
 * stays open), or fails when the whole transaction is already gone.  All
 * return 0 or -1.  store_in_transaction() says whether one is open. */
int store_savepoint(struct store *st);
int store_release(struct store *st);
int store_rollback_to(struct store *st);
int store_in_transaction(const struct store *st);

/* Load the state of feed `url` into *out (which the caller clears with
 * store_feed_state_clear).  Returns 1 when found, 0 when the feed has no
 * row yet (*out then holds only a copy of url, everything else zero), -1
 * on error. */
int store_feed_get(struct store *st, const char *url, struct store_feed_state *out);

/* Insert or replace the row of fs->url.  Returns 0 or -1. */
int store_feed_put(struct store *st, const struct store_feed_state *fs);

/* Free the strings of *fs and zero it.  NULL-safe. */
void store_feed_state_clear(struct store_feed_state *fs);

/* The status word of a feed: "never polled" (no success and no failure
 * yet), "ok" (the last poll succeeded), "retrying" (fewer than
 * STORE_FAILING_AFTER failures in a row) or "failing". */
const char *store_feed_status(const struct store_feed_state *fs);

/* Whether item `item_id` of feed `feed_url` was recorded as seen.  Returns
 * 1, 0, or -1 on error. */
int store_seen_has(struct store *st, const char *feed_url, const char *item_id);

/* Whether the seen set holds anything of feed `feed_url` (an id or a
 * content hash).  When it does not (the feed's first document, or every
 * entry pruned), store_seen_check() could only find what the caller itself
 * records from then on, so a caller that remembers those may skip it.
 * Returns 1, 0, or -1 on error. */
int store_seen_known(struct store *st, const char *feed_url);

/* Record an item as seen at time `now` (epoch seconds).  Recording it again
 * is not an error.  Returns 1 when newly added, 0 when already there, -1 on
 * error. */
int store_seen_add(struct store *st, const char *feed_url, const char *item_id, int64_t now);

/* Whether an item of a fetched document was seen before, by its id or,
 * when hash != 0, by its content hash (so a feed that changes ids on every
 * fetch does not look new).  What matched gets last_seen = now.  Returns 1
 * seen by id, 2 seen by content hash only, 0 new, -1 on error. */
int store_seen_check(struct store *st, const char *feed_url, const char *item_id,
                     uint64_t hash, int64_t now);

/* Record an item as seen at `now`: its id and, when hash != 0, its content
 * hash.  Returns 1 when the id was newly added, 0 when already there, -1 on
 * error. */
int store_seen_record(struct store *st, const char *feed_url, const char *item_id,
                      uint64_t hash, int64_t now);

/* store_seen_record() of n items of one feed at once (ids[i] and, when
 * hashes[i] != 0, hashes[i]), in fewer statements; the same rows result.
 * Returns 0 or -1 (nothing says which ids were new). */
int store_seen_record_many(struct store *st, const char *feed_url, const char *const *ids,
                           const uint64_t *hashes, size_t n, int64_t now);

/* Forget the seen entries (ids and content hashes) of `feed_url` last found
 * before `before` (epoch seconds), except those of the feed's latest
 * document, and return how many went, or -1.  NULL feed_url: all feeds. */
int64_t store_seen_prune(struct store *st, const char *feed_url, int64_t before);

/* Increment the counter `name` (created at 0 when missing) and return its
 * new value in *out: values are strictly increasing across close/reopen.
 * Returns 0 or -1. */
int store_counter_next(struct store *st, const char *name, int64_t *out);

/* Current value of counter `name`, 0 when it was never incremented.
 * Returns 0 or -1. */
int store_counter_get(struct store *st, const char *name, int64_t *out);

#endif

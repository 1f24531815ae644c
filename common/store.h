/*
 * store.h - persistent daemon state in SQLite.
 *
 * One database file per daemon (e.g. state_dir/fetcher.db) holds what must
 * survive a restart: per-feed polling state (conditional-GET validators,
 * failures, next poll), the ids of items already sent, and named counters
 * (the matcher's alert `seq`).  The file is opened in WAL mode with a busy
 * timeout, so a reader such as the CLI may look at it while a daemon runs;
 * the schema is created when missing and carries a version row in `meta`.
 *
 * Errors: store_open() fills a caller-owned na_error.  Every other function
 * returns a negative value on failure and store_errmsg() then tells why
 * (lower-case, no full stop, names the database file); the text stays valid
 * until the next call on the same store.  sqlite3 types never leave store.c.
 */
#ifndef NEWSALERT_STORE_H
#define NEWSALERT_STORE_H

#include <stdint.h>

#include "error.h"

#define STORE_SCHEMA_VERSION 1

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
};

/* Open (creating if needed) the database at `path`.  The directory must
 * exist.  A file that is not an SQLite database, or that carries a newer
 * schema than STORE_SCHEMA_VERSION, is an error.  Returns 0 and *out, or -1
 * with *err set. */
int store_open(const char *path, struct store **out, na_error *err);

/* Close *pst (rolling back an open transaction) and set it to NULL.
 * NULL-safe. */
void store_close(struct store **pst);

/* Why the last failing call on st failed. */
const char *store_errmsg(const struct store *st);

/* Transactions group many writes into one commit (a batch of seen items
 * and the feed state that goes with them).  Not nestable. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_rollback(struct store *st);

/* Load the state of feed `url` into *out (which the caller clears with
 * store_feed_state_clear).  Returns 1 when found, 0 when the feed has no
 * row yet (*out then holds only a copy of url, everything else zero), -1
 * on error. */
int store_feed_get(struct store *st, const char *url, struct store_feed_state *out);

/* Insert or replace the row of fs->url.  Returns 0 or -1. */
int store_feed_put(struct store *st, const struct store_feed_state *fs);

/* Free the strings of *fs and zero it.  NULL-safe. */
void store_feed_state_clear(struct store_feed_state *fs);

/* Whether item `item_id` of feed `feed_url` was recorded as seen.  Returns
 * 1, 0, or -1 on error. */
int store_seen_has(struct store *st, const char *feed_url, const char *item_id);

/* Record an item as seen at time `now` (epoch seconds).  Recording it again
 * is not an error.  Returns 1 when newly added, 0 when already there, -1 on
 * error. */
int store_seen_add(struct store *st, const char *feed_url, const char *item_id, int64_t now);

/* Forget seen items of `feed_url` first recorded before `before` (epoch
 * seconds) and return how many went, or -1.  NULL feed_url: all feeds. */
int64_t store_seen_prune(struct store *st, const char *feed_url, int64_t before);

/* Increment the counter `name` (created at 0 when missing) and return its
 * new value in *out: values are strictly increasing across close/reopen.
 * Returns 0 or -1. */
int store_counter_next(struct store *st, const char *name, int64_t *out);

/* Current value of counter `name`, 0 when it was never incremented.
 * Returns 0 or -1. */
int store_counter_get(struct store *st, const char *name, int64_t *out);

#endif

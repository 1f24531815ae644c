/*
 * journal.h - the matcher's durable alert journal.
 *
 * Every alert the matcher publishes is first appended here, in an SQLite
 * database in WAL mode (state_dir/journal.db).  An alert's `seq` is its
 * position in the journal: 1, 2, 3... strictly increasing, never reused,
 * not even after the newest alerts were pruned.  The journal also records
 * which items (feed URL + item id) were processed, so an item sent again by
 * the fetcher never produces alerts twice.
 *
 * Writes are grouped: journal_begin(), any number of journal_append() and
 * journal_item_mark(), then journal_commit(), which returns only once the
 * group is on disk (synchronous=FULL: the WAL is fsynced at commit) unless
 * the journal was opened with sync off (benchmarks only).  The caller
 * publishes alerts and acknowledges items only after journal_commit().
 *
 * Retention: journal_prune() drops alerts older than retention_s and the
 * oldest alerts beyond max_alerts, and processed-item keys older than
 * retention_s (at least one day; 30 days when retention_s is 0).  The
 * newest alert is always kept.
 *
 * Errors: journal_open() fills a caller-owned na_error; other functions
 * return a negative value and journal_errmsg() tells why.  sqlite3 types
 * never leave journal.c.
 */
#ifndef NEWSALERT_JOURNAL_H
#define NEWSALERT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define JOURNAL_SCHEMA_VERSION 1

struct journal;

struct journal_opts {
    int64_t retention_s; /* alerts older than this are pruned; 0 = no age limit */
    int64_t max_alerts;  /* at most this many alerts kept; 0 = no count limit */
    int sync;            /* 1: fsync at every commit (the default); 0: no fsync */
};

/* Open (creating if needed) the journal at `path`; its directory must
 * exist.  Returns 0 and *out, or -1 with *err set. */
int journal_open(const char *path, const struct journal_opts *opts, struct journal **out,
                 na_error *err);

/* Close *pj, rolling back an open group.  NULL-safe; sets *pj to NULL. */
void journal_close(struct journal **pj);

/* Why the last failing call failed (names the file; lower-case). */
const char *journal_errmsg(const struct journal *j);

/* The seq of the newest alert ever appended (0 when none), and of the
 * oldest alert still kept (head + 1 when the journal holds none). */
int64_t journal_head(const struct journal *j);
int64_t journal_oldest(const struct journal *j);

/* Group writes.  Not nestable.  journal_commit() makes the group durable;
 * journal_rollback() forgets it (head goes back too). */
int journal_begin(struct journal *j);
int journal_commit(struct journal *j);
int journal_rollback(struct journal *j);

/* Append an alert inside a group.  `seq` must be journal_head() + 1 (the
 * caller builds the body, which carries the seq, before appending).
 * Returns 0 or -1. */
int journal_append(struct journal *j, int64_t seq, const char *topic, const char *body,
                   size_t len, int64_t ts);

/* Whether item (feed, id) was processed.  Returns 1, 0 or -1. */
int journal_item_seen(struct journal *j, const char *feed, const char *id);

/* Record item (feed, id) as processed at time `now` (inside a group).
 * Returns 1 when new, 0 when already recorded, -1 on error. */
int journal_item_mark(struct journal *j, const char *feed, const char *id, int64_t now);

/* Called by journal_read() for each alert, in seq order; a non-zero return
 * stops the read. */
typedef int (*journal_read_fn)(int64_t seq, const char *topic, const char *body, size_t len,
                               void *arg);

/* Read alerts with seq > after whose topic starts with one of the
 * `nprefixes` prefixes (none: every alert), calling fn for at most
 * max_alerts of them and stopping after at most max_bytes of bodies (at
 * least one alert is given when one is due) or after scanning max_scan rows.
 * *last is set to the seq up to which the journal was examined: every
 * matching alert in (after, *last] was given to fn.  Returns the number of
 * alerts given, or -1. */
long journal_read(struct journal *j, int64_t after, const char *const *prefixes,
                  size_t nprefixes, long max_alerts, size_t max_bytes, long max_scan,
                  journal_read_fn fn, void *arg, int64_t *last);

/* Apply the retention policy at time `now`.  Returns the number of alerts
 * removed, or -1. */
int64_t journal_prune(struct journal *j, int64_t now);

#endif

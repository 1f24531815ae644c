/*
 * cursor.h - where each sink of the notifier stopped.
 *
 * One SQLite database, state_dir/notifier.db (WAL mode), holds one row per
 * sink name: the seq of the last alert the sink finished with (delivered,
 * or given up after its retries).  The sink's worker writes it after every
 * alert; on start the sink resumes after it.  A write survives a crash of
 * the process (kill -9): the WAL is in the kernel's hands once the commit
 * returns.  With synchronous=NORMAL a power loss may forget the last
 * commits, which means a resend, never a gap.
 *
 * The handle is shared by the sink threads (a mutex serialises calls).
 */
#ifndef NEWSALERT_CURSOR_H
#define NEWSALERT_CURSOR_H

#include <stdint.h>

#include "error.h"

struct cursors;

/* Open (creating) state_dir/notifier.db; state_dir is created if missing.
 * Returns 0 and *out, or -1 with *err naming the file. */
int cursors_open(const char *state_dir, struct cursors **out, na_error *err);

/* Close and free; *pc becomes NULL.  NULL-safe. */
void cursors_close(struct cursors **pc);

/* The cursor of sink `name`: 1 and *seq when there is one, 0 when the sink
 * never recorded one, -1 on a database error (logged). */
int cursors_get(struct cursors *c, const char *name, int64_t *seq);

/* Record that sink `name` is done with every alert up to seq.  Returns 0
 * or -1 (logged). */
int cursors_set(struct cursors *c, const char *name, int64_t seq);

#endif

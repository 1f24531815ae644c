/*
 * sink.h - where newsalert-notifier delivers alerts.
 *
 * A sink set holds every sink of the configuration (config->notifier.sinks):
 *   stdout   a readable rendering on a terminal, JSON lines otherwise;
 *   file     JSON lines appended to a file (O_APPEND, created if missing),
 *            reopened on sinkset_reopen() for log rotation;
 *   exec     a shell command per alert (/bin/sh -c), the alert JSON on its
 *            standard input, NEWSALERT_RULE_ID and NEWSALERT_SEQ in its
 *            environment, at most `concurrency` at once, killed after
 *            `timeout_s`;
 *   webhook  an HTTP request per alert (see remote.h, render.h), retried
 *            with exponential backoff;
 *   email    an SMTP message per alert, retried likewise.
 *
 * Every sink runs in its own thread and reads its own stream of alerts
 * (source.h) filtered by its topic prefixes, so a sink that fails, backs
 * off or hangs never delays another: its alerts wait in its stream.  A
 * sink keeps reading its stream while busy, into a queue of at most
 * 1,000 alerts; when that is full it closes the stream and opens a new one
 * later, after the last alert it queued (the journal replays the rest).
 *
 * Each sink keeps a cursor (cursor.h): the seq of the last alert it is
 * done with, written after every alert.  On start a sink resumes after its
 * cursor, or for a file sink after the seq of the file's last line when
 * that is further (so a crash between the write and the cursor write does
 * not duplicate the line; a torn last line is cut off and written again).
 *
 * The set borrows the configuration, which must outlive it.
 */
#ifndef NEWSALERT_SINK_H
#define NEWSALERT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define SINK_EXEC_KILL_GRACE_MS 2000 /* SIGTERM -> SIGKILL */
#define SINK_LOCAL_RETRY_MS 100      /* stdout/file: first delay after a failed write */
#define SINK_LOCAL_RETRY_MAX_S 30    /* stdout/file: longest delay */

struct sinkset;

struct sinkset_stats {
    unsigned long long delivered;  /* alerts a sink finished with successfully */
    unsigned long long failures;   /* alerts a sink gave up on, failed commands */
    unsigned long long retries;    /* attempts that failed and were retried */
    unsigned long long duplicates; /* alerts at or below a sink's cursor, skipped */
    unsigned long long bad;        /* bad messages dropped by the streams */
};

/* Open the cursor database under cfg->state_dir, every sink (files are
 * opened for appending, created when missing) and each sink's stream.
 * Returns 0 and sets *out, or -1 with *err naming the sink. */
int sinkset_open(const struct config *cfg, struct sinkset **out, na_error *err);

/* Start one worker thread per sink.  Returns 0, or -1 with *err (the
 * threads already started are stopped by sinkset_stop()). */
int sinkset_start(struct sinkset *set, na_error *err);

/* Ask file sinks to reopen their file (after log rotation, on SIGHUP). */
void sinkset_reopen(struct sinkset *set);

/* Stop the workers: an alert in a transfer or a backoff is abandoned (its
 * cursor is not advanced, so it is sent again after a restart), running
 * commands get grace_ms, then are killed.  Joins the threads. */
void sinkset_stop(struct sinkset *set, int grace_ms);

void sinkset_get_stats(const struct sinkset *set, struct sinkset_stats *out);

/* Stop (if still running) and free; *pset becomes NULL.  NULL-safe. */
void sinkset_free(struct sinkset **pset);

#endif

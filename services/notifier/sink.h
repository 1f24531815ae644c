/*
 * sink.h - where newsalert-notifier delivers alerts.
 *
 * A sink set holds every sink of the configuration (config->notifier.sinks):
 *   stdout  a readable rendering on a terminal, JSON lines otherwise;
 *   file    JSON lines appended to a file (O_APPEND, created if missing),
 *           reopened by sinkset_reopen() for log rotation;
 *   exec    a shell command per alert (/bin/sh -c), the alert JSON on its
 *           standard input, NEWSALERT_RULE_ID and NEWSALERT_SEQ in its
 *           environment, at most `concurrency` at once (a bounded queue
 *           beyond, oldest dropped when full), killed after `timeout_s`.
 * Each sink takes the alerts whose topic starts with one of its prefixes.
 * Nothing here blocks: exec children are fed through non-blocking pipes and
 * reaped with waitpid(WNOHANG) from sinkset_tick(), which the daemon's loop
 * calls after every wake-up, sleeping at most sinkset_timeout_ms().
 *
 * The set borrows the configuration, which must outlive it.
 */
#ifndef NEWSALERT_SINK_H
#define NEWSALERT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

#define SINK_EXEC_QUEUE_MAX 256 /* alerts waiting per exec sink */
#define SINK_EXEC_KILL_GRACE_MS 2000 /* SIGTERM -> SIGKILL */

struct sinkset;

struct sinkset_stats {
    unsigned long long delivered;  /* alerts accepted (at least one sink) */
    unsigned long long duplicates; /* alerts dropped because their seq was seen */
    unsigned long long unmatched;  /* alerts no sink wanted */
    unsigned long long failures;   /* sink writes/commands that failed */
    unsigned long long dropped;    /* exec alerts dropped from a full queue */
};

/* Open every sink of cfg->notifier (files are opened for appending and
 * created when missing).  Returns 0 and sets *out, or -1 with *err naming
 * the sink. */
int sinkset_open(const struct config *cfg, struct sinkset **out, na_error *err);

/* Kill any exec children still running (SIGKILL), reap them, close files and
 * free the set; *pset becomes NULL.  NULL-safe. */
void sinkset_free(struct sinkset **pset);

/* Hand one alert (already validated, see wire_recv_alert) to each sink whose
 * topic filter matches.  An alert whose `seq` is not above the last one
 * delivered in this run is a duplicate and is dropped.  Returns 1 when
 * delivered to at least one sink, 0 when nobody wanted it or it was a
 * duplicate. */
int sinkset_deliver(struct sinkset *set, const char *topic, const char *body, size_t len);

/* Reopen file sinks (after log rotation, on SIGHUP). */
void sinkset_reopen(struct sinkset *set);

/* Feed children their input, reap the ones that ended, enforce timeouts and
 * start queued commands.  Cheap; call after every wake-up. */
void sinkset_tick(struct sinkset *set);

/* How long the loop may sleep before sinkset_tick() has work (ms), or -1
 * when nothing is pending. */
int sinkset_timeout_ms(const struct sinkset *set);

/* Orderly shutdown: drop queued exec alerts (with a warning), wait at most
 * grace_ms for running children, then kill the rest. */
void sinkset_shutdown(struct sinkset *set, int grace_ms);

void sinkset_get_stats(const struct sinkset *set, struct sinkset_stats *out);

#endif

/*
 * parsework.h - the fetcher's parsing threads.
 *
 * Parsing a downloaded document (ingest_prepare: libxml2, HTML to text,
 * items, their hashes and packed records) is most of the fetcher's CPU work
 * and needs neither the store nor the feed's state, so it runs on worker
 * threads (fetcher.parse_threads, one per core by default) while the loop
 * keeps the transfers going and writes the results (ingest_result_doc) on
 * its own thread.  A job goes in with parsework_submit(), is parsed by
 * whichever worker is free, and comes back, prepared, from
 * parsework_next_done() in the order submitted (a job done early waits
 * for the older ones).  A worker calls the `wake` callback when the oldest
 * job is done (the fetcher's is poller_wakeup(), which interrupts the
 * loop's wait).  libxml2 is used by the workers only (initialised by
 * parsework_new for use from several threads).
 *
 * Ownership: a submitted job belongs to the workers until handed back; the
 * loop must not touch job->fd's state meanwhile except to read it.
 * parsework_destroy() stops each worker after the job it is on and frees
 * every job not handed back (their results are dropped: the feed was not
 * recorded, so the next poll fetches it again).
 */
#ifndef NEWSALERT_FETCHER_PARSEWORK_H
#define NEWSALERT_FETCHER_PARSEWORK_H

#include <stddef.h>

#include "error.h"
#include "feedset.h"
#include "ingest.h"
#include "poller.h"

struct parsework;

struct parsework_job {
    struct parsework_job *next; /* queue link, the module's */
    int state;                  /* the module's */
    struct fs_feed *fd;         /* borrowed: the feed fetched */
    char *feed_url;             /* a copy of fd->url, for the worker */
    struct poller_result r;     /* owned; the body is freed once parsed */
    struct ingest_doc doc;      /* filled by the worker */
};

/* Start nthreads workers (at least 1).  wake(arg) is called from a worker
 * thread.  Returns 0 and *out, or -1 with *err. */
int parsework_new(size_t nthreads, void (*wake)(void *), void *arg, struct parsework **out,
                  na_error *err);

/* Queue the result r of fetching fd (moved into the job: *r is zeroed).
 * Returns 0, or -1 when out of memory (then *r is untouched: the caller
 * ingests it itself). */
int parsework_submit(struct parsework *w, struct fs_feed *fd, struct poller_result *r);

/* The oldest prepared job, or NULL when none is ready (wait: block until
 * one is, unless none is outstanding).  The caller frees it with
 * parsework_job_free(). */
struct parsework_job *parsework_next_done(struct parsework *w, int wait);

/* Jobs submitted and not yet handed back. */
size_t parsework_outstanding(const struct parsework *w);

/* Free a job handed back.  NULL-safe; sets *pj to NULL. */
void parsework_job_free(struct parsework_job **pj);

/* Stop and join the workers, free the jobs not handed back.  NULL-safe;
 * sets *pw to NULL. */
void parsework_destroy(struct parsework **pw);

#endif

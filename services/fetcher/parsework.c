/*
 * parsework.c - the fetcher's parsing threads (see parsework.h).
 *
 * One singly linked list of the jobs not handed back, in the order
 * submitted, under one mutex; `next_todo` points at the first not yet taken
 * by a worker.  A worker takes that one, parses it without the lock, and
 * marks it done; parsework_next_done() hands back the head of the list
 * once it is done, so jobs come back in the order submitted whichever
 * worker finished first.  `cond` wakes the workers when a job arrives or
 * they must stop, `done_cond` a caller blocked in parsework_next_done(wait
 * = 1).  `outstanding` is touched by the loop's thread only.
 */
#include "parsework.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "feed.h"

enum { PW_TODO, PW_TAKEN, PW_DONE };

struct parsework {
    pthread_t *threads;
    size_t nthreads, started;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* workers: a job or stop */
    pthread_cond_t done_cond; /* caller: the oldest job is done */
    struct parsework_job *head, *tail; /* every job not handed back, oldest first */
    struct parsework_job *next_todo;   /* the oldest not taken, or NULL */
    int stop;
    size_t outstanding;
    void (*wake)(void *);
    void *wake_arg;
};

static void *parsework_main(void *arg)
{
    struct parsework *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct parsework_job *j;

        while (!w->stop && w->next_todo == NULL)
            pthread_cond_wait(&w->cond, &w->mu);
        if (w->stop)
            break;
        j = w->next_todo;
        w->next_todo = j->next;
        j->state = PW_TAKEN;
        pthread_mutex_unlock(&w->mu);
        ingest_prepare(&j->r, j->feed_url, &j->doc);
        free(j->r.body); /* the items hold what is needed now */
        j->r.body = NULL;
        j->r.len = 0;
        pthread_mutex_lock(&w->mu);
        j->state = PW_DONE;
        if (j != w->head) {
            /* an older job is still being parsed: it wakes the caller */
            continue;
        }
        pthread_cond_broadcast(&w->done_cond);
        pthread_mutex_unlock(&w->mu);
        if (w->wake != NULL)
            w->wake(w->wake_arg); /* parsework_destroy joins before the poller goes */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int parsework_new(size_t nthreads, void (*wake)(void *), void *arg, struct parsework **out,
                  na_error *err)
{
    struct parsework *w;
    int rc = 0;

    *out = NULL;
    if (nthreads < 1)
        nthreads = 1;
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (w->threads = calloc(nthreads, sizeof(*w->threads))) == NULL) {
        free(w);
        return na_error_set(err, 0, 0, "out of memory");
    }
    w->nthreads = nthreads;
    w->wake = wake;
    w->wake_arg = arg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->done_cond, NULL);
    feed_init(); /* the workers parse while this thread may use libxml2 too */
    /* signals go to the loop's thread, whose wait they interrupt */
    while (w->started < nthreads &&
           (rc = daemon_thread_start(&w->threads[w->started], parsework_main, w)) == 0)
        w->started++;
    if (rc != 0) {
        parsework_destroy(&w);
        return na_error_set(err, 0, 0, "cannot start a parsing thread: %s", strerror(rc));
    }
    *out = w;
    return 0;
}

int parsework_submit(struct parsework *w, struct fs_feed *fd, struct poller_result *r)
{
    struct parsework_job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->feed_url = strdup(fd->url)) == NULL) {
        free(j);
        return -1;
    }
    j->fd = fd;
    j->r = *r;
    j->state = PW_TODO;
    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&w->mu);
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    if (w->next_todo == NULL)
        w->next_todo = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    w->outstanding++;
    return 0;
}

/* Unlink the head of w's list (w->mu held, or no worker running). */
static struct parsework_job *parsework_pop(struct parsework *w)
{
    struct parsework_job *j = w->head;

    if (j != NULL) {
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        if (w->next_todo == j)
            w->next_todo = j->next;
        j->next = NULL;
    }
    return j;
}

struct parsework_job *parsework_next_done(struct parsework *w, int wait)
{
    struct parsework_job *j = NULL;

    if (w->outstanding == 0)
        return NULL;
    pthread_mutex_lock(&w->mu);
    while (wait && w->head->state != PW_DONE)
        pthread_cond_wait(&w->done_cond, &w->mu);
    if (w->head->state == PW_DONE)
        j = parsework_pop(w);
    pthread_mutex_unlock(&w->mu);
    if (j != NULL)
        w->outstanding--;
    return j;
}

size_t parsework_outstanding(const struct parsework *w)
{
    return w->outstanding;
}

void parsework_job_free(struct parsework_job **pj)
{
    struct parsework_job *j;

    if (pj == NULL || *pj == NULL)
        return;
    j = *pj;
    *pj = NULL;
    poller_result_clear(&j->r);
    ingest_doc_clear(&j->doc);
    free(j->feed_url);
    free(j);
}

void parsework_destroy(struct parsework **pw)
{
    struct parsework *w;
    struct parsework_job *j;

    if (pw == NULL || *pw == NULL)
        return;
    w = *pw;
    *pw = NULL;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->started; i++)
        pthread_join(w->threads[i], NULL);
    while ((j = parsework_pop(w)) != NULL)
        parsework_job_free(&j);
    pthread_cond_destroy(&w->done_cond);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
}

/*
 * parsework.c - the fetcher's parsing thread (see parsework.h).
 *
 * Two singly linked FIFO lists under one mutex: `todo` (submitted, not
 * parsed) and `done` (parsed, not handed back); `cond` wakes the worker
 * when a job arrives or it must stop, `done_cond` a caller blocked in
 * parsework_next_done(wait = 1).  `outstanding` is touched by the loop's
 * thread only.
 */
#include "parsework.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "feed.h"

struct parsework_list {
    struct parsework_job *head, *tail;
};

struct parsework {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* worker: a job or stop */
    pthread_cond_t done_cond; /* caller: a job is done */
    struct parsework_list todo, done;
    int stop;
    size_t outstanding;
    void (*wake)(void *);
    void *wake_arg;
};

static void parsework_push(struct parsework_list *l, struct parsework_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct parsework_job *parsework_pop(struct parsework_list *l)
{
    struct parsework_job *j = l->head;

    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void *parsework_main(void *arg)
{
    struct parsework *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct parsework_job *j;

        while (!w->stop && w->todo.head == NULL)
            pthread_cond_wait(&w->cond, &w->mu);
        if (w->stop)
            break;
        j = parsework_pop(&w->todo);
        pthread_mutex_unlock(&w->mu);
        ingest_prepare(&j->r, j->feed_url, &j->doc);
        free(j->r.body); /* the items hold what is needed now */
        j->r.body = NULL;
        j->r.len = 0;
        pthread_mutex_lock(&w->mu);
        parsework_push(&w->done, j);
        pthread_cond_signal(&w->done_cond);
        pthread_mutex_unlock(&w->mu);
        if (w->wake != NULL)
            w->wake(w->wake_arg); /* parsework_destroy joins before the poller goes */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int parsework_new(void (*wake)(void *), void *arg, struct parsework **out, na_error *err)
{
    struct parsework *w;
    int rc;

    *out = NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    w->wake = wake;
    w->wake_arg = arg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->done_cond, NULL);
    feed_init(); /* the worker parses while this thread may use libxml2 too */
    /* signals go to the loop's thread, whose wait they interrupt */
    rc = daemon_thread_start(&w->thread, parsework_main, w);
    if (rc != 0) {
        parsework_destroy(&w);
        return na_error_set(err, 0, 0, "cannot start the parsing thread: %s", strerror(rc));
    }
    w->started = 1;
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
    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&w->mu);
    parsework_push(&w->todo, j);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    w->outstanding++;
    return 0;
}

struct parsework_job *parsework_next_done(struct parsework *w, int wait)
{
    struct parsework_job *j;

    if (w->outstanding == 0)
        return NULL;
    pthread_mutex_lock(&w->mu);
    while (wait && w->done.head == NULL)
        pthread_cond_wait(&w->done_cond, &w->mu);
    j = parsework_pop(&w->done);
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
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    while ((j = parsework_pop(&w->todo)) != NULL)
        parsework_job_free(&j);
    while ((j = parsework_pop(&w->done)) != NULL)
        parsework_job_free(&j);
    pthread_cond_destroy(&w->done_cond);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

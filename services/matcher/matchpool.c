/*
 * matchpool.c - match a batch of items on several threads (see
 * matchpool.h).
 *
 * One mutex and two condition variables: the caller publishes a batch (a
 * generation number), every thread - the caller too - takes the next index
 * from a shared atomic counter until none is left, and the caller waits
 * until every helper has finished the batch.  Results are per index and
 * each index is handled by exactly one thread, so writing them needs no
 * lock.  A batch either matches items (with an optional per-item prepare
 * step, e.g. decoding) or runs a caller's function on each index.
 */
#include "matchpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* Groups smaller than this are matched by the calling thread alone. */
#define MATCHPOOL_PARALLEL_MIN 8

struct result {
    struct matchpool_match *m;
    size_t n, cap;
    int failed;
};

struct helper {
    struct matchpool *p;
    pthread_t tid;
    int started;
    struct ruleset_worker *w; /* for the set of the runs since the last forget */
};

struct matchpool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;     /* batch number */
    int quit;
    int busy;              /* helpers still on the batch */
    atomic_size_t next;    /* the next index to take */
    /* the batch */
    const struct ruleset *rs;
    struct item *const *items;
    size_t n;              /* items of the last match (results kept) */
    size_t bn;             /* indexes of the running batch */
    matchpool_fn prep;     /* matching: called on each index first (or NULL) */
    matchpool_fn fn;       /* not NULL: a matchpool_for batch */
    void *arg;
    atomic_int fn_failed;
    struct result *res;
    size_t rescap;
    struct helper *h;      /* h[0] is the calling thread */
    int nh;
};

struct cb_ctx {
    struct ruleset_worker *w;
    struct result *r;
};

static int collect(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct cb_ctx *c = arg;
    struct result *r = c->r;
    struct rule_explanation *x = NULL;

    (void)it;
    if (r->n == r->cap) {
        size_t ncap = r->cap != 0 ? r->cap * 2 : 8;
        struct matchpool_match *nm = realloc(r->m, ncap * sizeof(*nm));

        if (nm == NULL)
            return 1;
        r->m = nm;
        r->cap = ncap;
    }
    if (ruleset_worker_explain(c->w, rule->index, &x) < 0)
        return 1;
    r->m[r->n].rule = rule;
    r->m[r->n].why = x;
    r->n++;
    return 0;
}

/* Take indexes until none is left. */
static void work(struct matchpool *p, struct helper *h)
{
    if (p->fn != NULL) {
        size_t i;

        while ((i = atomic_fetch_add(&p->next, 1)) < p->bn)
            if (p->fn(p->arg, i) != 0)
                atomic_store(&p->fn_failed, 1);
        return;
    }
    if (h->w == NULL)
        h->w = ruleset_worker_new(p->rs);
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        struct cb_ctx c;

        if (i >= p->bn)
            break;
        if (p->prep != NULL && p->prep(p->arg, i) != 0) {
            p->res[i].failed = 1;
            continue;
        }
        if (p->items[i] == NULL)
            continue;
        if (h->w == NULL) {
            p->res[i].failed = 1;
            continue;
        }
        c.w = h->w;
        c.r = &p->res[i];
        if (ruleset_worker_match(h->w, p->items[i], collect, &c) != 0)
            p->res[i].failed = 1;
    }
}

/* Run the batch set up in p on every thread; returns when all are done. */
static void run_batch(struct matchpool *p, size_t n)
{
    pthread_mutex_lock(&p->mu);
    p->bn = n;
    atomic_store(&p->next, 0);
    /* a small group is not worth waking the helpers */
    p->busy = n >= MATCHPOOL_PARALLEL_MIN ? p->nh - 1 : 0;
    if (p->busy > 0) {
        p->gen++;
        pthread_cond_broadcast(&p->go);
    }
    pthread_mutex_unlock(&p->mu);
    work(p, &p->h[0]);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct matchpool *p = h->p;
    unsigned long seen = 0;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        work(p, h);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    ruleset_worker_free(&h->w);
    return NULL;
}

int matchpool_new(int nthreads, struct matchpool **out, na_error *err)
{
    struct matchpool *p;

    *out = NULL;
    if (nthreads < 1)
        nthreads = 1;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->h = calloc((size_t)nthreads, sizeof(*p->h));
    if (p->h == NULL) {
        matchpool_free(&p);
        return na_error_set(err, 0, 0, "out of memory");
    }
    p->nh = nthreads;
    for (int i = 0; i < nthreads; i++)
        p->h[i].p = p;
    for (int i = 1; i < nthreads; i++) {
        if (daemon_thread_start(&p->h[i].tid, helper_main, &p->h[i]) != 0) {
            matchpool_free(&p);
            return na_error_set(err, 0, 0, "cannot start matching thread %d", i);
        }
        p->h[i].started = 1;
    }
    *out = p;
    return 0;
}

void matchpool_clear(struct matchpool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->res[i].n; k++)
            rule_explanation_free(&p->res[i].m[k].why);
        p->res[i].n = 0;
        p->res[i].failed = 0;
    }
    p->n = 0;
}

void matchpool_free(struct matchpool **pp)
{
    struct matchpool *p;

    if (pp == NULL || *pp == NULL)
        return;
    p = *pp;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; p->h != NULL && i < p->nh; i++)
        if (p->h[i].started)
            pthread_join(p->h[i].tid, NULL);
    if (p->h != NULL)
        ruleset_worker_free(&p->h[0].w);
    matchpool_clear(p);
    for (size_t i = 0; i < p->rescap; i++)
        free(p->res[i].m);
    free(p->res);
    free(p->h);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
    *pp = NULL;
}

int matchpool_run_prep(struct matchpool *p, const struct ruleset *rs, struct item *const *items,
                       size_t n, matchpool_fn prep, void *arg)
{
    matchpool_clear(p);
    if (n > p->rescap) {
        struct result *nr = realloc(p->res, n * sizeof(*nr));

        if (nr == NULL)
            return -1;
        memset(nr + p->rescap, 0, (n - p->rescap) * sizeof(*nr));
        p->res = nr;
        p->rescap = n;
    }
    p->rs = rs;
    p->items = items;
    p->n = n;
    p->prep = prep;
    p->fn = NULL;
    p->arg = arg;
    run_batch(p, n);
    for (size_t i = 0; i < n; i++)
        if (p->res[i].failed) {
            matchpool_clear(p);
            return -1;
        }
    return 0;
}

int matchpool_run(struct matchpool *p, const struct ruleset *rs, struct item *const *items,
                  size_t n)
{
    return matchpool_run_prep(p, rs, items, n, NULL, NULL);
}

int matchpool_for(struct matchpool *p, size_t n, matchpool_fn fn, void *arg)
{
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->fn_failed, 0);
    run_batch(p, n);
    p->fn = NULL;
    return atomic_load(&p->fn_failed) ? -1 : 0;
}

void matchpool_forget(struct matchpool *p)
{
    matchpool_clear(p);
    /* the helpers wait for the next batch: their workers are not in use */
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nh; i++)
        ruleset_worker_free(&p->h[i].w);
    pthread_mutex_unlock(&p->mu);
}

size_t matchpool_count(const struct matchpool *p, size_t i)
{
    return i < p->n ? p->res[i].n : 0;
}

const struct matchpool_match *matchpool_get(const struct matchpool *p, size_t i, size_t k)
{
    return &p->res[i].m[k];
}

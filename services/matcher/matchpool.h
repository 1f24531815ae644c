/*
 * matchpool.h - match a batch of items on several threads.
 *
 * The matcher takes items in groups; a pool matches the items of a group in
 * parallel (each thread with its own ruleset worker: normalisers, document,
 * regex scratch) and keeps each item's matches, with their explanations, in
 * rule order.  The caller then journals and publishes them item by item, in
 * the order the items came, so the alerts of one item stay together and in
 * order whatever the number of threads.  The calling thread takes part in
 * the work; a pool of 1 thread starts no thread at all.
 */
#ifndef NEWSALERT_MATCHPOOL_H
#define NEWSALERT_MATCHPOOL_H

#include <stddef.h>

#include "error.h"
#include "item.h"
#include "ruleset.h"

struct matchpool;

/* One match: the rule (borrowed from the ruleset) and why it matched. */
struct matchpool_match {
    const struct rule_info *rule;
    struct rule_explanation *why; /* owned by the pool */
};

/* A pool of `nthreads` (>= 1) threads.  Returns 0 and *out, or -1. */
int matchpool_new(int nthreads, struct matchpool **out, na_error *err);

/* Stop the threads and free everything.  NULL-safe. */
void matchpool_free(struct matchpool **pp);

/* Match items[0..n) (NULL entries are skipped) against rs, which must be
 * the set of the previous runs unless matchpool_forget was called since.
 * Returns 0, or -1 when out of memory (no result is then kept). */
int matchpool_run(struct matchpool *p, const struct ruleset *rs, struct item *const *items,
                  size_t n);

/* A function run on one index of a batch; non-zero means it failed. */
typedef int (*matchpool_fn)(void *arg, size_t i);

/* matchpool_run, where the thread that takes item i first calls
 * prep(arg, i), which may fill items[i] (e.g. decode it; NULL: nothing to
 * match).  A non-zero return fails the run like an out-of-memory. */
int matchpool_run_prep(struct matchpool *p, const struct ruleset *rs, struct item *const *items,
                       size_t n, matchpool_fn prep, void *arg);

/* Run fn(arg, i) for every i in [0, n) on the pool's threads (each i
 * once; returns when all are done).  The last run's matches stay readable.
 * Returns 0, or -1 when any call failed (every i is still called). */
int matchpool_for(struct matchpool *p, size_t n, matchpool_fn fn, void *arg);

/* The matches of item i of the last run, in rule order. */
size_t matchpool_count(const struct matchpool *p, size_t i);
const struct matchpool_match *matchpool_get(const struct matchpool *p, size_t i, size_t k);

/* Drop the last run's results (the explanations). */
void matchpool_clear(struct matchpool *p);

/* Drop the results and every thread's worker: call it before the rule set
 * of the runs is freed (a reload); the next run may use another set. */
void matchpool_forget(struct matchpool *p);

#endif

/*
 * feedset.c - the feeds the fetcher polls, with their state and schedule
 * (see feedset.h).
 */
#include "feedset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fs_feed_free(struct fs_feed *fd)
{
    if (fd == NULL)
        return;
    free(fd->url);
    free(fd->name);
    store_feed_state_clear(&fd->st);
    free(fd);
}

/* Take the feed with `url` out of old, or NULL. */
static struct fs_feed *feedset_take(struct feedset *old, const char *url)
{
    size_t i;

    if (old == NULL)
        return NULL;
    for (i = 0; i < old->nfeeds; i++)
        if (old->feeds[i] != NULL && strcmp(old->feeds[i]->url, url) == 0) {
            struct fs_feed *fd = old->feeds[i];

            old->feeds[i] = NULL;
            return fd;
        }
    return NULL;
}

int feedset_build(const struct feedlist *fl, struct feedset *old, struct store *store,
                  struct feedset **out, na_error *err)
{
    struct feedset *set;
    size_t i;

    *out = NULL;
    set = calloc(1, sizeof(*set));
    if (set == NULL || (set->feeds = calloc(fl->nfeeds + 1, sizeof(*set->feeds))) == NULL) {
        free(set);
        return na_error_set(err, 0, 0, "out of memory");
    }
    for (i = 0; i < fl->nfeeds; i++) {
        const struct feed_conf *fc = &fl->feeds[i];
        char *name = strdup(fc->name != NULL ? fc->name : fc->url);
        struct fs_feed *fd;

        if (name == NULL)
            goto oom;
        fd = feedset_take(old, fc->url);
        if (fd == NULL) {
            fd = calloc(1, sizeof(*fd));
            if (fd == NULL || (fd->url = strdup(fc->url)) == NULL) {
                free(fd);
                free(name);
                goto oom;
            }
            if (store_feed_get(store, fc->url, &fd->st) < 0) {
                na_error_set(err, 0, 0, "%s", store_errmsg(store));
                free(name);
                fs_feed_free(fd);
                goto fail;
            }
        } else if (fc->interval_s < fd->interval_s && fd->st.failures == 0 &&
                   fd->st.next_poll > fd->st.last_ok + fc->interval_s) {
            /* a shorter interval takes effect now, not after the old one */
            fd->st.next_poll = fd->st.last_ok + fc->interval_s;
        }
        free(fd->name);
        fd->name = name;
        fd->interval_s = fc->interval_s;
        fd->max_age_s = fc->max_age_s;
        set->feeds[set->nfeeds++] = fd;
    }
    *out = set;
    return 0;

oom:
    na_error_set(err, 0, 0, "out of memory");
fail:
    /* give the moved feeds back so the caller's old set stays whole */
    for (i = 0; i < set->nfeeds; i++) {
        size_t j;
        int back = 0;

        for (j = 0; old != NULL && j < old->nfeeds && !back; j++)
            if (old->feeds[j] == NULL) {
                old->feeds[j] = set->feeds[i];
                back = 1;
            }
        if (!back)
            fs_feed_free(set->feeds[i]);
    }
    free(set->feeds);
    free(set);
    return -1;
}

void feedset_free(struct feedset **pset)
{
    struct feedset *set;
    size_t i;

    if (pset == NULL || *pset == NULL)
        return;
    set = *pset;
    *pset = NULL;
    for (i = 0; i < set->nfeeds; i++)
        fs_feed_free(set->feeds[i]);
    free(set->feeds);
    free(set);
}

int64_t feedset_backoff(int interval_s, int failures)
{
    int64_t cap = interval_s > FEEDSET_MAX_BACKOFF_S ? interval_s : FEEDSET_MAX_BACKOFF_S;
    int64_t d = interval_s > 0 ? interval_s : 1;
    int i;

    for (i = 1; i < failures && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

const char *feedset_label(const struct fs_feed *fd, char *buf, size_t size)
{
    if (fd->name == NULL || strcmp(fd->name, fd->url) == 0)
        snprintf(buf, size, "%s", fd->url);
    else
        snprintf(buf, size, "'%s' (%s)", fd->name, fd->url);
    return buf;
}

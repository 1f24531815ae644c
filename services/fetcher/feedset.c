/*
 * feedset.c - the feeds the fetcher polls, with their state and schedule
 * (see feedset.h).
 */
#include "feedset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"

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

static void feedset_free_hosts(struct feedset *set)
{
    size_t i;

    for (i = 0; i < set->nhosts; i++) {
        free(set->hosts[i]->key);
        free(set->hosts[i]);
    }
    free(set->hosts);
    set->hosts = NULL;
    set->nhosts = 0;
}

/* Give every feed of set its host (shared by the feeds with the same key),
 * counting the transfers already running.  Hosts are looked up in a hash
 * table built for the occasion.  Returns 0, or -1 (out of memory) with no
 * feed changed (they may still belong to the caller's old set). */
static int feedset_assign_hosts(struct feedset *set)
{
    size_t cap = 16, i;
    struct fs_host **table, **chosen;
    char key[FEEDSET_HOST_MAX];

    while (cap < set->nfeeds * 2)
        cap *= 2;
    table = calloc(cap, sizeof(*table));
    chosen = calloc(set->nfeeds + 1, sizeof(*chosen));
    set->hosts = calloc(set->nfeeds + 1, sizeof(*set->hosts));
    if (table == NULL || chosen == NULL || set->hosts == NULL) {
        free(table);
        free(chosen);
        return -1;
    }
    for (i = 0; i < set->nfeeds; i++) {
        struct fs_feed *fd = set->feeds[i];
        size_t n = strlen(feedset_host_key(fd->url, key, sizeof(key)));
        size_t slot = (size_t)feed_fnv1a64(FEED_FNV1A64_INIT, key, n) & (cap - 1);
        struct fs_host *h;

        while ((h = table[slot]) != NULL && strcmp(h->key, key) != 0)
            slot = (slot + 1) & (cap - 1);
        if (h == NULL) {
            h = calloc(1, sizeof(*h));
            if (h == NULL || (h->key = strdup(key)) == NULL) {
                free(h);
                free(table);
                free(chosen);
                return -1;
            }
            table[slot] = h;
            set->hosts[set->nhosts++] = h;
        }
        chosen[i] = h;
    }
    for (i = 0; i < set->nfeeds; i++) {
        set->feeds[i]->host = chosen[i];
        if (set->feeds[i]->in_flight)
            chosen[i]->in_flight++;
    }
    free(table);
    free(chosen);
    return 0;
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
    if (feedset_assign_hosts(set) != 0)
        goto oom;
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
    feedset_free_hosts(set);
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
    feedset_free_hosts(set);
    free(set->feeds);
    free(set);
}

int64_t feedset_backoff(int interval_s, int failures, int max_backoff_s)
{
    int64_t cap = interval_s > max_backoff_s ? interval_s : max_backoff_s;
    int64_t d = interval_s > 0 ? interval_s : 1;
    int i;

    for (i = 1; i < failures && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

int64_t feedset_delay(int interval_s, int failures, int max_backoff_s,
                      const struct fs_hints *h)
{
    int64_t base = interval_s > 0 ? interval_s : 1;
    int64_t cap = interval_s > FEEDSET_MAX_HINT_S ? interval_s : FEEDSET_MAX_HINT_S;
    int64_t hint = -1;

    if (failures > 0) {
        base = feedset_backoff(interval_s, failures, max_backoff_s);
        if (h != NULL)
            hint = h->retry_after_s;
    } else if (h != NULL) {
        hint = h->ttl_s;
        if (h->max_age_s > hint)
            hint = h->max_age_s;
        if (h->expires_s > hint)
            hint = h->expires_s;
        if (h->retry_after_s > hint)
            hint = h->retry_after_s;
    }
    if (hint > cap)
        hint = cap;
    return hint > base ? hint : base;
}

int64_t feedset_jitter(const char *url, int64_t now, int64_t delay)
{
    uint64_t x = feed_fnv1a64(FEED_FNV1A64_INIT, url, strlen(url)) ^ (uint64_t)now;

    if (delay < 10)
        return 0;
    /* splitmix64 finaliser: spreads close values of now */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (int64_t)(x % (uint64_t)(delay / 10 + 1));
}

const char *feedset_host_key(const char *url, char *buf, size_t size)
{
    const char *p = strstr(url, "://"), *auth, *end, *at;
    size_t n, i;

    if (size == 0)
        return buf;
    if (p == NULL || strncmp(url, "file:", 5) == 0) {
        snprintf(buf, size, "file://");
        return buf;
    }
    auth = p + 3;
    end = auth + strcspn(auth, "/?#");
    for (at = end; at > auth && at[-1] != '@'; at--)
        ;
    if (at > auth)
        auth = at; /* drop user:password@ */
    n = (size_t)(p + 3 - url) + (size_t)(end - auth);
    if (n >= size)
        n = size - 1;
    snprintf(buf, size, "%.*s%.*s", (int)(p + 3 - url), url, (int)(end - auth), auth);
    for (i = 0; i < n && buf[i] != '\0'; i++)
        buf[i] = (char)tolower((unsigned char)buf[i]);
    return buf;
}

const char *feedset_label(const struct fs_feed *fd, char *buf, size_t size)
{
    if (fd->name == NULL || strcmp(fd->name, fd->url) == 0)
        snprintf(buf, size, "%s", fd->url);
    else
        snprintf(buf, size, "'%s' (%s)", fd->name, fd->url);
    return buf;
}

void feedset_restore(struct fs_feed *fd, struct store *store, int64_t now)
{
    struct store_feed_state st;

    memset(&st, 0, sizeof(st));
    if (store_feed_get(store, fd->url, &st) >= 0) {
        store_feed_state_clear(&fd->st);
        fd->st = st;
    } else {
        store_feed_state_clear(&st);
        free(fd->st.etag);
        fd->st.etag = NULL;
        free(fd->st.last_modified);
        fd->st.last_modified = NULL;
    }
    fd->st.next_poll = now + fd->interval_s;
}

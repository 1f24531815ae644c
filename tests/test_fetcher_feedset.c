/*
 * test_fetcher_feedset.c - the fetcher's feed set: retry backoff, state
 * loaded from the store, and reloads that keep the state of the feeds
 * that stay and hand back the ones that go; the schedule (publisher hints
 * against the configured interval, jitter), hosts for the per-host limit,
 * the poller's header parsers and ingest's content hash; ingest's
 * in-memory seen set of a feed the store knows nothing of, against the
 * store's look-ups on the same document; items too large for the hand-off
 * (cut to fit, or dropped) that must not hold back the rest of their feed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zmq.h>

#include "feedset.h"
#include "handoff.h"
#include "ingest.h"
#include "item.h"
#include "item_pack.h"
#include "poller.h"
#include "store.h"
#include "wire.h"

static void test_backoff(void **state)
{
    (void)state;
    /* doubles from the interval ... */
    assert_int_equal(feedset_backoff(300, 1, FEEDSET_MAX_BACKOFF_S), 300);
    assert_int_equal(feedset_backoff(300, 2, FEEDSET_MAX_BACKOFF_S), 600);
    assert_int_equal(feedset_backoff(300, 3, FEEDSET_MAX_BACKOFF_S), 1200);
    assert_int_equal(feedset_backoff(300, 6, FEEDSET_MAX_BACKOFF_S), 9600);
    /* ... up to FEEDSET_MAX_BACKOFF_S ... */
    assert_int_equal(feedset_backoff(300, 7, FEEDSET_MAX_BACKOFF_S), 19200);
    assert_int_equal(feedset_backoff(300, 8, FEEDSET_MAX_BACKOFF_S), FEEDSET_MAX_BACKOFF_S);
    assert_int_equal(feedset_backoff(300, 1000000, FEEDSET_MAX_BACKOFF_S), FEEDSET_MAX_BACKOFF_S);
    /* ... or the interval when that is longer */
    assert_int_equal(feedset_backoff(86400, 1, FEEDSET_MAX_BACKOFF_S), 86400);
    assert_int_equal(feedset_backoff(86400, 5, FEEDSET_MAX_BACKOFF_S), 86400);
    assert_int_equal(feedset_backoff(1, 3, FEEDSET_MAX_BACKOFF_S), 4);
}

static struct feed_conf conf(const char *url, const char *name, int interval)
{
    struct feed_conf fc;

    memset(&fc, 0, sizeof(fc));
    fc.url = (char *)url;
    fc.name = (char *)name;
    fc.interval_s = interval;
    fc.max_age_s = 60;
    return fc;
}

/* A store in a fresh temporary directory dir (a mkdtemp template). */
static struct store *tmp_store_open(char *dir)
{
    char path[64];
    struct store *st = NULL;
    na_error err;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.db", dir);
    na_error_clear(&err);
    assert_int_equal(store_open(path, &st, &err), 0);
    return st;
}

/* Close *pst and remove it with its directory. */
static void tmp_store_remove(struct store **pst, const char *dir)
{
    static const char *const files[] = {"f.db", "f.db-wal", "f.db-shm"};
    char path[64];

    store_close(pst);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_build_and_reload(void **state)
{
    char dir[] = "/tmp/na-test-feedset-XXXXXX", label[256];
    struct store *st = NULL;
    struct feedset *set = NULL, *set2 = NULL;
    struct store_feed_state fs;
    struct feed_conf v1[2], v2[2];
    struct feedlist fl1 = {v1, 2}, fl2 = {v2, 2};
    struct fs_feed *a, *b;
    na_error err;

    (void)state;
    st = tmp_store_open(dir);
    na_error_clear(&err);
    memset(&fs, 0, sizeof(fs));
    fs.url = "http://a/rss";
    fs.etag = "\"e1\"";
    fs.failures = 2;
    fs.last_ok = 100;
    fs.next_poll = 5000;
    assert_int_equal(store_feed_put(st, &fs), 0);

    v1[0] = conf("http://a/rss", "A", 300);
    v1[1] = conf("http://b/rss", "http://b/rss", 300);
    assert_int_equal(feedset_build(&fl1, NULL, st, &set, &err), 0);
    assert_int_equal(set->nfeeds, 2);
    a = set->feeds[0];
    b = set->feeds[1];
    /* state comes from the store; an unknown feed starts from zero */
    assert_string_equal(a->st.etag, "\"e1\"");
    assert_int_equal(a->st.failures, 2);
    assert_int_equal(a->st.next_poll, 5000);
    assert_int_equal(b->st.last_ok, 0);
    assert_int_equal(b->st.next_poll, 0);
    assert_string_equal(feedset_label(a, label, sizeof(label)), "'A' (http://a/rss)");
    assert_string_equal(feedset_label(b, label, sizeof(label)), "http://b/rss");

    /* state changed in memory (not in the store) survives a reload */
    a->st.failures = 3;
    a->in_flight = 1;
    v2[0] = conf("http://c/rss", "C", 60);
    v2[1] = conf("http://a/rss", "A renamed", 120);
    assert_int_equal(feedset_build(&fl2, set, st, &set2, &err), 0);
    assert_int_equal(set2->nfeeds, 2);
    assert_ptr_equal(set2->feeds[1], a); /* same object: a transfer may point at it */
    assert_int_equal(a->st.failures, 3);
    assert_int_equal(a->in_flight, 1);
    assert_string_equal(a->name, "A renamed");
    assert_int_equal(a->interval_s, 120);
    assert_string_equal(set2->feeds[0]->url, "http://c/rss");
    /* what is left in the old set is the removed feed */
    assert_null(set->feeds[0]);
    assert_ptr_equal(set->feeds[1], b);
    feedset_free(&set);
    assert_null(set);
    feedset_free(&set2);
    feedset_free(&set2); /* NULL-safe */
    tmp_store_remove(&st, dir);
}

/* A rolled-back store transaction: the feed's state in memory goes back to
 * what the store holds (a new feed is new again, so its max_age_s cut-off
 * still applies on the next poll), polled again after its interval. */
static void test_restore_after_rollback(void **state)
{
    char dir[] = "/tmp/na-test-feedset-XXXXXX";
    struct store *st = NULL;
    struct feedset *set = NULL;
    struct store_feed_state fs;
    struct feed_conf v[2];
    struct feedlist fl = {v, 2};
    struct fs_feed *a, *b;
    na_error err;

    (void)state;
    st = tmp_store_open(dir);
    na_error_clear(&err);
    memset(&fs, 0, sizeof(fs));
    fs.url = "http://a/rss";
    fs.etag = "\"e1\"";
    fs.last_ok = 100;
    fs.items_seen = 7;
    assert_int_equal(store_feed_put(st, &fs), 0);
    v[0] = conf("http://a/rss", "A", 300);
    v[1] = conf("http://b/rss", "B", 60);
    assert_int_equal(feedset_build(&fl, NULL, st, &set, &err), 0);
    a = set->feeds[0];
    b = set->feeds[1];

    /* a turn records both feeds' new state, then fails and rolls back */
    assert_int_equal(store_begin(st), 0);
    free(a->st.etag);
    a->st.etag = strdup("\"e2\"");
    a->st.last_ok = 200;
    a->st.items_seen = 27;
    a->st.failures = 0;
    b->st.last_ok = 200; /* b's first poll */
    b->st.etag = strdup("\"b1\"");
    b->st.items_seen = 20;
    assert_int_equal(store_feed_put(st, &a->st), 0);
    assert_int_equal(store_feed_put(st, &b->st), 0);
    assert_int_equal(store_rollback(st), 0);

    feedset_restore(a, st, 1000);
    feedset_restore(b, st, 1000);
    assert_string_equal(a->st.etag, "\"e1\"");
    assert_int_equal(a->st.last_ok, 100);
    assert_int_equal(a->st.items_seen, 7);
    assert_int_equal(a->st.next_poll, 1300);
    assert_string_equal(a->st.url, "http://a/rss");
    assert_null(b->st.etag);
    assert_int_equal(b->st.last_ok, 0); /* still a first poll */
    assert_int_equal(b->st.items_seen, 0);
    assert_int_equal(b->st.next_poll, 1060);

    feedset_free(&set);
    tmp_store_remove(&st, dir);
}

/* What wins when the publisher's hints and the configuration disagree. */
static void test_schedule(void **state)
{
    struct fs_hints none = {-1, -1, -1, -1}, h;

    (void)state;
    /* no hint: the interval */
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, NULL), 300);
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &none), 300);
    /* shorter hints never make us poll more often */
    h = none;
    h.max_age_s = 0;
    h.ttl_s = 60;
    h.expires_s = 10;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), 300);
    /* the longest of the longer hints wins: ttl, max-age, Expires, Retry-After */
    h = none;
    h.ttl_s = 60 * 60;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), 3600);
    h.max_age_s = 7200;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), 7200);
    h.expires_s = 9000;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), 9000);
    h.retry_after_s = 10000;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), 10000);
    /* but no hint postpones a feed by more than a day (or its own interval) */
    h.retry_after_s = 30 * 86400;
    assert_int_equal(feedset_delay(300, 0, FEEDSET_MAX_BACKOFF_S, &h), FEEDSET_MAX_HINT_S);
    assert_int_equal(feedset_delay(3 * 86400, 0, FEEDSET_MAX_BACKOFF_S, &h), 3 * 86400);
    /* after a failure: backoff, or a longer Retry-After; caching hints do not count */
    h = none;
    h.max_age_s = 86400;
    assert_int_equal(feedset_delay(300, 2, FEEDSET_MAX_BACKOFF_S, &h), 600);
    h.retry_after_s = 5000;
    assert_int_equal(feedset_delay(300, 2, FEEDSET_MAX_BACKOFF_S, &h), 5000);
    h.retry_after_s = 10;
    assert_int_equal(feedset_delay(300, 2, FEEDSET_MAX_BACKOFF_S, &h), 600);
    /* the backoff cap is configurable */
    assert_int_equal(feedset_backoff(300, 10, 1000), 1000);
    assert_int_equal(feedset_delay(300, 10, 1000, NULL), 1000);
}

static void test_jitter(void **state)
{
    int64_t j, lo = INT64_MAX, hi = -1, t;
    int differs = 0;

    (void)state;
    /* deterministic, 0..10% of the delay, never negative */
    assert_int_equal(feedset_jitter("http://a/rss", 1000, 300),
                     feedset_jitter("http://a/rss", 1000, 300));
    for (t = 0; t < 2000; t++) {
        j = feedset_jitter("http://a/rss", 1700000000 + t, 300);
        assert_true(j >= 0 && j <= 30);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
        differs |= j != feedset_jitter("http://b/rss", 1700000000 + t, 300);
    }
    /* it actually spreads: the whole range is used, feeds differ */
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 30);
    assert_true(differs);
    assert_int_equal(feedset_jitter("http://a/rss", 5, 9), 0);
}

static void test_host_key(void **state)
{
    char buf[FEEDSET_HOST_MAX];

    (void)state;
    assert_string_equal(feedset_host_key("https://Example.COM/a/b?c", buf, sizeof(buf)),
                        "https://example.com");
    assert_string_equal(feedset_host_key("http://user:pw@host:8080/x", buf, sizeof(buf)),
                        "http://host:8080");
    assert_string_equal(feedset_host_key("http://host", buf, sizeof(buf)), "http://host");
    assert_string_equal(feedset_host_key("http://h?q@x", buf, sizeof(buf)), "http://h");
    assert_string_equal(feedset_host_key("file:///tmp/x.rss", buf, sizeof(buf)), "file://");
    assert_string_equal(feedset_host_key("http://abcdef/", buf, 10), "http://ab");
}

/* Feeds on one host share it; the running transfers are counted. */
static void test_hosts_shared(void **state)
{
    char dir[] = "/tmp/na-test-feedset-XXXXXX";
    struct feed_conf v[3];
    struct feedlist fl = {v, 3};
    struct feedset *set = NULL, *set2 = NULL;
    struct store *st = NULL;
    na_error err;

    (void)state;
    st = tmp_store_open(dir);
    na_error_clear(&err);
    v[0] = conf("http://news.example/a", "a", 60);
    v[1] = conf("http://other.example/b", "b", 60);
    v[2] = conf("http://NEWS.example/c", "c", 60);
    assert_int_equal(feedset_build(&fl, NULL, st, &set, &err), 0);
    assert_int_equal(set->nhosts, 2);
    assert_ptr_equal(set->feeds[0]->host, set->feeds[2]->host);
    assert_ptr_not_equal(set->feeds[0]->host, set->feeds[1]->host);
    assert_string_equal(set->feeds[0]->host->key, "http://news.example");
    set->feeds[0]->in_flight = 1;
    set->feeds[2]->in_flight = 1;
    /* a reload recounts the running transfers on the new hosts */
    assert_int_equal(feedset_build(&fl, set, st, &set2, &err), 0);
    assert_int_equal(set2->feeds[0]->host->in_flight, 2);
    assert_int_equal(set2->feeds[1]->host->in_flight, 0);
    feedset_free(&set);
    feedset_free(&set2);
    tmp_store_remove(&st, dir);
}

/* The response hints as the poller reads them. */
static void test_header_hints(void **state)
{
    const long long now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

    (void)state;
    assert_int_equal(poller_parse_retry_after(NULL, now), -1);
    assert_int_equal(poller_parse_retry_after("120", now), 120);
    assert_int_equal(poller_parse_retry_after(" 0 ", now), 0);
    assert_int_equal(poller_parse_retry_after("12x", now), -1);
    assert_int_equal(poller_parse_retry_after("-5", now), -1);
    assert_int_equal(poller_parse_retry_after("99999999999999999999", now), -1);
    assert_int_equal(poller_parse_retry_after("Tue, 14 Nov 2023 23:13:20 GMT", now), 3600);
    assert_int_equal(poller_parse_retry_after("Tue, 14 Nov 2023 20:00:00 GMT", now), 0);
    assert_int_equal(poller_parse_retry_after("soon", now), -1);

    assert_int_equal(poller_parse_max_age(NULL), -1);
    assert_int_equal(poller_parse_max_age("public, max-age=600"), 600);
    assert_int_equal(poller_parse_max_age("s-maxage=900, max-age=\"60\""), 60);
    assert_int_equal(poller_parse_max_age("s-maxage=900"), -1);
    assert_int_equal(poller_parse_max_age("no-cache"), 0);
    assert_int_equal(poller_parse_max_age("private, no-store, max-age=600"), 0);
    assert_int_equal(poller_parse_max_age("max-age="), -1);
    assert_true(poller_parse_max_age("max-age=99999999999999999999999") > 86400); /* no overflow */

    /* Expires counts from the response's Date, else from now */
    assert_int_equal(poller_parse_expires("Tue, 14 Nov 2023 23:13:20 GMT", NULL, now), 3600);
    assert_int_equal(poller_parse_expires("Tue, 14 Nov 2023 23:13:20 GMT",
                                          "Tue, 14 Nov 2023 23:00:00 GMT", now),
                     800);
    assert_int_equal(poller_parse_expires("0", NULL, now), -1);
    assert_int_equal(poller_parse_expires("Mon, 13 Nov 2023 00:00:00 GMT", NULL, now), -1);
    assert_int_equal(poller_parse_expires(NULL, NULL, now), -1);
}

/* The content hash that catches reissued ids. */
static void test_content_hash(void **state)
{
    struct item a, b;

    (void)state;
    memset(&a, 0, sizeof(a));
    a.published = ITEM_TIME_UNKNOWN;
    assert_true(ingest_content_hash(&a) == 0); /* nothing to hash */
    a.id = "guid-1";
    a.title = "Storm hits coast";
    a.link = "https://n.example/storm";
    a.published = 1700000000;
    a.summary = "first version";
    b = a;
    b.id = "guid-2"; /* a new id, same story */
    b.summary = "edited summary";
    assert_true(ingest_content_hash(&a) != 0);
    assert_true(ingest_content_hash(&a) == ingest_content_hash(&b));
    b.published = 1700000060; /* republished: a new story */
    assert_true(ingest_content_hash(&a) != ingest_content_hash(&b));
    b = a;
    b.link = "https://n.example/storm-2";
    assert_true(ingest_content_hash(&a) != ingest_content_hash(&b));
    /* no link: title and summary */
    a.link = NULL;
    b = a;
    assert_true(ingest_content_hash(&a) == ingest_content_hash(&b));
    b.summary = "other text";
    assert_true(ingest_content_hash(&a) != ingest_content_hash(&b));
    /* the separator matters: ("ab", "c") is not ("a", "bc") */
    a.title = "ab";
    a.summary = "c";
    b.title = "a";
    b.summary = "bc";
    assert_true(ingest_content_hash(&a) != ingest_content_hash(&b));
}

/* ------------------------------------------------------------------------ */
/* ingest: a feed the seen set knows nothing of is looked up in memory */

#define FRESH_NOW 1700000030
#define FRESH_URL "http://fresh.example/rss"

/* One <item> of the test document. */
static void fresh_item(char *buf, size_t size, size_t *len, const char *guid,
                       const char *title, const char *link, const char *date,
                       const char *desc)
{
    int n = snprintf(buf + *len, size - *len, "<item>%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s</item>\n",
                     guid != NULL ? "<guid isPermaLink=\"false\">" : "",
                     guid != NULL ? guid : "", guid != NULL ? "</guid>" : "",
                     title != NULL ? "<title>" : "", title != NULL ? title : "",
                     title != NULL ? "</title>" : "", link != NULL ? "<link>" : "",
                     link != NULL ? link : "", link != NULL ? "</link>" : "",
                     date != NULL ? "<pubDate>" : "", date != NULL ? date : "",
                     date != NULL ? "</pubDate>" : "", desc != NULL ? "<description>" : "",
                     desc != NULL ? desc : "", desc != NULL ? "</description>" : "");

    assert_true(n > 0 && (size_t)n < size - *len);
    *len += (size_t)n;
}

/* A document with everything the seen set must tell apart: repeated ids,
 * new ids on known content (by link, and by title and summary without a
 * link), items without content identity, items older than max_age_s (some
 * repeated), non-ASCII ids, and enough new ones to fill a small outbox. */
static char *fresh_document(size_t *len)
{
    static const char recent[] = "Tue, 14 Nov 2023 22:13:20 GMT";
    static const char old[] = "Tue, 14 Nov 2023 19:26:40 GMT";
    size_t size = 16384;
    char *buf = malloc(size);
    char guid[32], title[64];

    assert_non_null(buf);
    *len = 0;
    *len += (size_t)snprintf(buf, size, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                        "<rss version=\"2.0\"><channel><title>Fresh</title>\n");
    for (int i = 0; i < 12; i++) {
        snprintf(guid, sizeof(guid), "g%02d", i);
        snprintf(title, sizeof(title), "Story %d", i);
        fresh_item(buf, size, len, guid, title, "https://fresh.example/s", recent, "x");
    }
    fresh_item(buf, size, len, "a1", "Alpha", "https://fresh.example/a", recent, "one");
    fresh_item(buf, size, len, "a1", "Alpha again", "https://fresh.example/a2", recent, "two");
    fresh_item(buf, size, len, "a2", "Alpha", "https://fresh.example/a", recent, "three");
    fresh_item(buf, size, len, "n1", "Note", NULL, NULL, "same text");
    fresh_item(buf, size, len, "n2", "Note", NULL, NULL, "same text");
    fresh_item(buf, size, len, "n3", "Note", NULL, NULL, "other text");
    fresh_item(buf, size, len, "e1", NULL, NULL, NULL, NULL);
    fresh_item(buf, size, len, "e2", NULL, NULL, NULL, NULL);
    fresh_item(buf, size, len, "e1", NULL, NULL, NULL, NULL);
    fresh_item(buf, size, len, "old1", "Old", "https://fresh.example/o", old, "o");
    fresh_item(buf, size, len, "old1", "Old", "https://fresh.example/o", old, "o");
    fresh_item(buf, size, len, "old2", "Old", "https://fresh.example/o", old, "o");
    fresh_item(buf, size, len, "\xc3\xbc-\xc3\xb1/\xd0\xb8\xd0\xb4", "Unicode", NULL, recent,
               "u");
    fresh_item(buf, size, len, "u2", "\xc3\xbc", "https://fresh.example/\xc3\xbc", recent, "u");
    fresh_item(buf, size, len, "g03", "Story 3 once more", "https://fresh.example/t", recent,
               "x");
    *len += (size_t)snprintf(buf + *len, size - *len, "</channel></rss>\n");
    assert_true(*len < size - 1);
    return buf;
}

/* The rows of a query with one text parameter, one line per row. */
static void fresh_dump(struct store *st, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *s = NULL;
    size_t len = 0;
    int rc;

    assert_int_equal(sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(s, 1, FRESH_URL, -1, SQLITE_STATIC), SQLITE_OK);
    out[0] = '\0';
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(s); c++) {
            const unsigned char *v = sqlite3_column_text(s, c);
            int n = snprintf(out + len, size - len, "%s%s", c > 0 ? " " : "",
                             v != NULL ? (const char *)v : "NULL");

            assert_true(n >= 0 && (size_t)n < size - len);
            len += (size_t)n;
        }
        assert_true(len + 1 < size);
        out[len++] = '\n';
        out[len] = '\0';
    }
    assert_int_equal(rc, SQLITE_DONE);
    sqlite3_finalize(s);
}

struct fresh_run {
    struct ingest_stats stats[2];
    int64_t items_seen;
    char outbox[8192], seen[8192], hashes[8192];
};

/* One feed with its store, feed set and hand-off: what ingest needs. */
struct ingest_rig {
    char dir[40];
    void *zctx;
    struct store *st;
    struct handoff *h;
    struct feed_conf v[1];
    struct feedset *set;
    struct fs_feed *fd;
    struct ingest_ctx cx;
};

/* A new store under /tmp with feed `url` (named `name`), and a hand-off
 * bound to `endpoint` whose outbox takes max_pending items (0: default). */
static void rig_open(struct ingest_rig *g, const char *url, const char *name,
                     const char *endpoint, int64_t max_pending)
{
    struct handoff_opts hopts = {0, 0, max_pending};
    struct feedlist fl;
    na_error err;

    memset(g, 0, sizeof(*g));
    snprintf(g->dir, sizeof(g->dir), "/tmp/na-test-ingest-XXXXXX");
    g->zctx = zmq_ctx_new();
    assert_non_null(g->zctx);
    g->st = tmp_store_open(g->dir);
    na_error_clear(&err);
    assert_int_equal(handoff_new_store(g->zctx, endpoint, g->st, NULL, &hopts, &g->h, &err), 0);
    g->v[0] = conf(url, name, 300);
    fl.feeds = g->v;
    fl.nfeeds = 1;
    assert_int_equal(feedset_build(&fl, NULL, g->st, &g->set, &err), 0);
    g->fd = g->set->feeds[0];
    g->cx.store = g->st;
    g->cx.handoff = g->h;
    g->cx.max_backoff_s = 3600;
}

/* Ingest body as the feed's 200 response twice: a first poll, then the
 * same document a minute later; each poll's stats in stats[0..1]. */
static void rig_poll_twice(struct ingest_rig *g, const char *body, size_t len,
                           struct ingest_stats stats[2])
{
    struct poller_result r;
    struct ingest_doc doc;

    memset(&r, 0, sizeof(r));
    r.ok = 1;
    r.http_status = 200;
    r.body = (char *)body;
    r.len = len;
    r.content_type = "application/rss+xml";
    r.retry_after_s = r.max_age_s = r.expires_s = -1;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(ingest_prepare(&r, g->fd->url, &doc), 0);
        assert_int_equal(ingest_result_doc(&g->cx, g->fd, &r, &doc, FRESH_NOW + 60 * round,
                                           &stats[round]),
                         0);
        ingest_doc_clear(&doc);
    }
}

static void rig_close(struct ingest_rig *g)
{
    handoff_destroy(&g->h);
    zmq_ctx_term(g->zctx);
    feedset_free(&g->set);
    tmp_store_remove(&g->st, g->dir);
}

/* Ingest the test document twice (a first poll, then the same document a
 * minute later) into a new store; with `known` the feed has an unrelated
 * entry in the seen set first, so every item is looked up in the store. */
static void fresh_ingest(int known, int64_t max_pending, struct fresh_run *out)
{
    struct ingest_rig g;
    char *body;
    size_t len;

    rig_open(&g, FRESH_URL, "F", "inproc://na-test-fresh", max_pending);
    if (known) {
        assert_int_equal(store_seen_record(g.st, FRESH_URL, "unrelated", 42, 1), 1);
        assert_int_equal(store_seen_known(g.st, FRESH_URL), 1);
    } else {
        assert_int_equal(store_seen_known(g.st, FRESH_URL), 0);
    }
    assert_int_equal(g.fd->st.items_seen, 0); /* the store is asked in both cases */
    body = fresh_document(&len);
    rig_poll_twice(&g, body, len, out->stats);
    out->items_seen = g.fd->st.items_seen;
    fresh_dump(g.st, "SELECT feed, id FROM outbox WHERE feed = ?1 ORDER BY tag", out->outbox,
               sizeof(out->outbox));
    fresh_dump(g.st, "SELECT id, first_seen, last_seen FROM seen"
                     " WHERE feed = ?1 AND id <> 'unrelated' ORDER BY id",
               out->seen, sizeof(out->seen));
    fresh_dump(g.st, "SELECT hash, last_seen FROM seen_hash WHERE feed = ?1 AND hash <> 42"
                     " ORDER BY hash",
               out->hashes, sizeof(out->hashes));
    free(body);
    rig_close(&g);
}

static void fresh_assert_same(const struct fresh_run *a, const struct fresh_run *b)
{
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a->stats[i].items, b->stats[i].items);
        assert_int_equal(a->stats[i].sent, b->stats[i].sent);
        assert_int_equal(a->stats[i].old, b->stats[i].old);
        assert_int_equal(a->stats[i].deferred, b->stats[i].deferred);
        assert_int_equal(a->stats[i].reissued, b->stats[i].reissued);
    }
    assert_int_equal(a->items_seen, b->items_seen);
    assert_string_equal(a->outbox, b->outbox);
    assert_string_equal(a->seen, b->seen);
    assert_string_equal(a->hashes, b->hashes);
}

/* The first document of a feed the store knows nothing of: the same items
 * sent, recorded, deferred and counted as with a look-up per item. */
static void test_ingest_fresh_feed(void **state)
{
    static struct fresh_run mem, db;

    (void)state;
    fresh_ingest(0, 0, &mem);
    fresh_ingest(1, 0, &db);
    fresh_assert_same(&mem, &db);
    /* the first run's first poll took the in-memory path, nothing else did */
    assert_int_equal(mem.stats[0].fresh, 1);
    assert_int_equal(mem.stats[1].fresh, 0);
    assert_int_equal(db.stats[0].fresh, 0);
    assert_int_equal(db.stats[1].fresh, 0);
    /* and what that is, oldest (last) first: 27 items; g03, e1 and a1 come
     * twice by id; old1 (twice) and n1 have the content of old2 and n2:
     * reissued, not recorded; old2 is older than max_age_s: recorded unsent */
    assert_int_equal(mem.stats[0].items, 27);
    assert_int_equal(mem.stats[0].sent, 20);
    assert_int_equal(mem.stats[0].old, 1);
    assert_int_equal(mem.stats[0].reissued, 3);
    assert_int_equal(mem.stats[0].deferred, 0);
    assert_int_equal(mem.items_seen, 21);
    assert_non_null(strstr(mem.outbox, FRESH_URL " \xc3\xbc-\xc3\xb1/\xd0\xb8\xd0\xb4\n"));
    assert_non_null(strstr(mem.outbox, " a2\n"));
    assert_null(strstr(mem.outbox, " old2\n"));
    assert_null(strstr(mem.seen, "old1 "));
    assert_null(strstr(mem.seen, "n1 "));
    assert_non_null(strstr(mem.seen, "old2 1700000030 1700000090\n"));
    /* the second poll finds everything */
    assert_int_equal(mem.stats[1].sent, 0);
    assert_int_equal(mem.stats[1].reissued, 3);

    /* a full outbox: the rest is deferred (not recorded), old ones still
     * recorded, in both */
    fresh_ingest(0, 8, &mem);
    fresh_ingest(1, 8, &db);
    fresh_assert_same(&mem, &db);
    assert_int_equal(mem.stats[0].sent, 8);
    assert_int_equal(mem.stats[0].deferred, 12);
    assert_int_equal(mem.stats[0].old, 1);
}

/* ------------------------------------------------------------------------ */
/* ingest: an item too large for the hand-off does not block its feed */

#define BIG_URL "http://big.example/rss"

/* A feed, newest first: two small stories, an item whose description is
 * 1.8 MB of HTML (its summary and content over WIRE_MAX_ITEM), an item
 * whose guid alone is 1.1 MB, and the oldest, small. */
static char *big_document(size_t *len)
{
    static const char para[] = "<p>Ukraine territorial concessions \xc3\xa9t\xc3\xa9 "
                               "\xe2\x80\x94 NATO membership talks go on.</p>";
    size_t big = 1800000, huge_id = 1100000, size = big + huge_id + 8192, i;
    char *buf = malloc(size), *p, *end;

    assert_non_null(buf);
    p = buf;
    end = buf + size;
    p += snprintf(p, (size_t)(end - p),
                  "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\">"
                  "<channel><title>Big</title>\n"
                  "<item><guid>new2</guid><title>Newest</title>"
                  "<pubDate>Tue, 14 Nov 2023 22:13:20 GMT</pubDate></item>\n"
                  "<item><guid>new1</guid><title>Newer</title></item>\n"
                  "<item><guid>big</guid><title>The big story</title>"
                  "<link>https://big.example/story</link><description><![CDATA[");
    for (i = 0; i + sizeof(para) - 1 <= big; i += sizeof(para) - 1)
        p += snprintf(p, (size_t)(end - p), "%s", para);
    p += snprintf(p, (size_t)(end - p), "]]></description></item>\n<item><guid>");
    memset(p, 'g', huge_id);
    p += huge_id;
    p += snprintf(p, (size_t)(end - p),
                  "</guid><title>Huge id</title></item>\n"
                  "<item><guid>old1</guid><title>Oldest</title></item>\n"
                  "</channel></rss>\n");
    *len = (size_t)(p - buf);
    assert_true(*len < size);
    return buf;
}

static void test_ingest_oversize_item(void **state)
{
    struct ingest_rig g;
    struct ingest_stats stats[2];
    sqlite3_stmt *s;
    const char *ids[] = {"old1", "big", "new1", "new2"};
    int nrows = 0;
    char *body;
    size_t len;
    na_error err;

    (void)state;
    rig_open(&g, BIG_URL, "B", "inproc://na-test-big", 0);
    body = big_document(&len);
    rig_poll_twice(&g, body, len, stats);
    /* the first poll: four sent (one of them cut), the huge id dropped,
     * nothing held back; the second finds every one of the five known */
    assert_int_equal(stats[0].items, 5);
    assert_int_equal(stats[0].sent, 4);
    assert_int_equal(stats[0].cut, 1);
    assert_int_equal(stats[0].dropped, 1);
    assert_int_equal(stats[0].deferred, 0);
    assert_int_equal(stats[1].sent + stats[1].cut + stats[1].dropped + stats[1].deferred, 0);
    assert_int_equal(g.fd->st.items_seen, 5);

    /* in the outbox, oldest first: the big story fits the hand-off and
     * keeps its title, link and the start of its text */
    assert_int_equal(sqlite3_prepare_v2(store_sqlite(g.st),
                                        "SELECT id, json FROM outbox WHERE feed = ?1 ORDER BY tag",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_bind_text(s, 1, BIG_URL, -1, SQLITE_STATIC), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const void *rec = sqlite3_column_blob(s, 1);
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        struct item *it = NULL;

        assert_true(nrows < 4);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), ids[nrows]);
        assert_true(n <= WIRE_MAX_ITEM);
        assert_int_equal(item_pack_decode(rec, n, &it, &err), 0);
        if (strcmp(ids[nrows], "big") == 0) {
            /* an RSS description is the summary (HTML), its text the content */
            const char *text = it->summary;
            size_t tl;

            assert_non_null(text);
            tl = strlen(text);
            assert_true(n > WIRE_MAX_ITEM - 64);
            assert_string_equal(it->title, "The big story");
            assert_string_equal(it->link, "https://big.example/story");
            assert_non_null(strstr(text, "Ukraine territorial concessions"));
            assert_string_equal(text + tl - 3, "\xe2\x80\xa6");
        }
        item_free(&it);
        nrows++;
    }
    sqlite3_finalize(s);
    assert_int_equal(nrows, 4);
    free(body);
    rig_close(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_build_and_reload),
        cmocka_unit_test(test_restore_after_rollback),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_host_key),
        cmocka_unit_test(test_hosts_shared),
        cmocka_unit_test(test_header_hints),
        cmocka_unit_test(test_content_hash),
        cmocka_unit_test(test_ingest_fresh_feed),
        cmocka_unit_test(test_ingest_oversize_item),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

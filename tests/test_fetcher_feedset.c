/*
 * test_fetcher_feedset.c - the fetcher's feed set: retry backoff, state
 * loaded from the store, and reloads that keep the state of the feeds
 * that stay and hand back the ones that go.
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

#include "feedset.h"
#include "store.h"

static void test_backoff(void **state)
{
    (void)state;
    /* doubles from the interval ... */
    assert_int_equal(feedset_backoff(300, 1), 300);
    assert_int_equal(feedset_backoff(300, 2), 600);
    assert_int_equal(feedset_backoff(300, 3), 1200);
    assert_int_equal(feedset_backoff(300, 6), 9600);
    /* ... up to FEEDSET_MAX_BACKOFF_S ... */
    assert_int_equal(feedset_backoff(300, 7), 19200);
    assert_int_equal(feedset_backoff(300, 8), FEEDSET_MAX_BACKOFF_S);
    assert_int_equal(feedset_backoff(300, 1000000), FEEDSET_MAX_BACKOFF_S);
    /* ... or the interval when that is longer */
    assert_int_equal(feedset_backoff(86400, 1), 86400);
    assert_int_equal(feedset_backoff(86400, 5), 86400);
    assert_int_equal(feedset_backoff(1, 3), 4);
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

static void test_build_and_reload(void **state)
{
    char dir[] = "/tmp/na-test-feedset-XXXXXX", path[64], label[256];
    struct store *st = NULL;
    struct feedset *set = NULL, *set2 = NULL;
    struct store_feed_state fs;
    struct feed_conf v1[2], v2[2];
    struct feedlist fl1 = {v1, 2}, fl2 = {v2, 2};
    struct fs_feed *a, *b;
    na_error err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.db", dir);
    na_error_clear(&err);
    assert_int_equal(store_open(path, &st, &err), 0);
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
    store_close(&st);
    unlink(path);
    snprintf(path, sizeof(path), "%s/f.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/f.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_build_and_reload),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

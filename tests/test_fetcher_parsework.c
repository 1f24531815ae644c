/*
 * test_fetcher_parsework.c - the fetcher's parsing threads (parsework.c)
 * and the split of ingest they run (ingest_prepare): with 1, 2 and 4
 * workers, documents come back in the order submitted (also when a later
 * one is done first), prepared exactly as ingest_prepare prepares them on
 * the caller's thread (items, hashes, packed records), bad documents with
 * their reason; the wake-up is called whenever the oldest is done, so a
 * loop that only polls after a wake-up misses none; destroying the workers
 * with jobs still queued frees them (ASan / valgrind check the leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "feedset.h"
#include "ingest.h"
#include "item.h"
#include "item_pack.h"
#include "parsework.h"
#include "poller.h"

static int wakes; /* written by the worker: read only after a join or a handed-back job */

static void on_wake(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_SEQ_CST);
}

/* Document k: an RSS feed of k % 7 items with non-ASCII and markup, or
 * (every fifth) something that is not a feed; every 16th (k % 16 == 0) has
 * a 300 kB channel description, so that later ones are done before it. */
static char *make_doc(int k)
{
    size_t size = k % 16 == 0 ? 65536 + 300000 : 65536, len = 0;
    char *buf = malloc(size);
    int i;

    assert_non_null(buf);
    if (k % 5 == 4) {
        snprintf(buf, 65536, "\x01\x02 not a feed %d", k);
        return buf;
    }
    len += (size_t)snprintf(buf + len, size - len,
                            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\">"
                            "<channel><title>Feed %d</title><link>https://f%d.example/</link>",
                            k, k);
    if (k % 16 == 0) {
        len += (size_t)snprintf(buf + len, size - len, "<description>");
        for (i = 0; i < 30000; i++)
            len += (size_t)snprintf(buf + len, size - len, "w&amp;rds ");
        len += (size_t)snprintf(buf + len, size - len, "</description>");
    }
    for (i = 0; i < k % 7; i++)
        len += (size_t)snprintf(
            buf + len, size - len,
            "<item><title>Caf\xc3\xa9 \"%d\" &amp; more</title><guid>g-%d-%d</guid>"
            "<link>https://f%d.example/%d</link><pubDate>Tue, 10 Jun 2003 04:00:00 GMT"
            "</pubDate><description>&lt;p&gt;Body\\%d &lt;script&gt;x()&lt;/script&gt;"
            "&lt;/p&gt;</description><category>c%d</category></item>",
            i, k, i, k, i, i, i);
    snprintf(buf + len, size - len, "</channel></rss>");
    return buf;
}

static void fill_result(struct poller_result *r, int k)
{
    memset(r, 0, sizeof(*r));
    r->ok = 1;
    r->http_status = 200;
    r->body = make_doc(k);
    r->len = strlen(r->body);
    r->content_type = strdup("application/rss+xml; charset=utf-8");
    r->etag = strdup("\"e\"");
    r->retry_after_s = r->max_age_s = r->expires_s = -1;
}

/* The worker's preparation of job j equals ingest_prepare() of the same
 * document on this thread. */
static void assert_same_as_inline(const struct parsework_job *j, int k)
{
    struct poller_result r;
    struct ingest_doc d;
    size_t i;

    fill_result(&r, k);
    ingest_prepare(&r, j->feed_url, &d);
    assert_int_equal(j->doc.ok, d.ok);
    assert_string_equal(j->doc.error, d.error);
    assert_int_equal(j->doc.n, d.n);
    for (i = 0; i < d.n; i++) {
        assert_string_equal(j->doc.items[i]->id, d.items[i]->id);
        assert_true(j->doc.hash[i] == d.hash[i]);
        assert_non_null(j->doc.packed[i]);
        assert_int_equal(j->doc.packed_len[i], d.packed_len[i]);
        assert_memory_equal(j->doc.packed[i], d.packed[i], d.packed_len[i]);
        assert_true(j->doc.items[i]->published == d.items[i]->published);
    }
    ingest_doc_clear(&d);
    poller_result_clear(&r);
}

static void order_and_results(size_t nthreads)
{
    enum { N = 60 };
    struct fs_feed feeds[N];
    char urls[N][64];
    struct parsework *w = NULL;
    struct parsework_job *j;
    na_error err;
    int k;

    wakes = 0;
    assert_int_equal(parsework_new(nthreads, on_wake, NULL, &w, &err), 0);
    assert_null(parsework_next_done(w, 1)); /* nothing outstanding: no wait */
    for (k = 0; k < N; k++) {
        struct poller_result r;

        memset(&feeds[k], 0, sizeof(feeds[k]));
        snprintf(urls[k], sizeof(urls[k]), "https://f%d.example/feed", k);
        feeds[k].url = urls[k];
        fill_result(&r, k);
        assert_int_equal(parsework_submit(w, &feeds[k], &r), 0);
        assert_null(r.body); /* moved */
    }
    assert_int_equal(parsework_outstanding(w), N);
    for (k = 0; k < N; k++) {
        j = parsework_next_done(w, 1);
        assert_non_null(j);
        assert_ptr_equal(j->fd, &feeds[k]); /* in the order submitted */
        assert_null(j->r.body);             /* freed once parsed */
        assert_string_equal(j->r.etag, "\"e\"");
        if (k % 5 == 4) {
            assert_int_equal(j->doc.ok, 0);
            assert_true(j->doc.error[0] != '\0');
        } else {
            assert_int_equal(j->doc.ok, 1);
            assert_int_equal(j->doc.n, (size_t)(k % 7));
            /* only what ingest_result_doc needs is kept */
            if (j->doc.n > 0) {
                struct item *it = NULL;

                assert_non_null(j->doc.items[0]->id);
                assert_null(j->doc.items[0]->summary);
                assert_int_equal(item_pack_decode(j->doc.packed[0], j->doc.packed_len[0], &it,
                                                  NULL), 0);
                assert_string_equal(it->summary, "Body\\0");
                item_free(&it);
            }
        }
        assert_same_as_inline(j, k);
        parsework_job_free(&j);
        assert_null(j);
    }
    assert_int_equal(parsework_outstanding(w), 0);
    assert_null(parsework_next_done(w, 0));
    parsework_destroy(&w);
    assert_null(w);
    /* at most one per job: a job done while an older one is still there
     * (parsed, or not handed back yet) is handed back with it */
    assert_true(wakes >= 1 && wakes <= N);
}

static void test_order_and_results(void **state)
{
    (void)state;
    order_and_results(1);
    order_and_results(2);
    order_and_results(4);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fetcher's loop: it only looks for finished jobs (without waiting)
 * after a wake-up, taken before it looks.  No job may be left behind. */
static void test_no_lost_wakeup(void **state)
{
    enum { N = 150 };
    static struct fs_feed feeds[N];
    struct parsework *w = NULL;
    na_error err;

    (void)state;
    for (size_t nthreads = 1; nthreads <= 4; nthreads *= 2) {
        int got = 0;

        wakes = 0;
        assert_int_equal(parsework_new(nthreads, on_wake, NULL, &w, &err), 0);
        for (int k = 0; k < N; k++) {
            struct poller_result r;

            memset(&feeds[k], 0, sizeof(feeds[k]));
            feeds[k].url = (char *)"https://f.example/feed";
            fill_result(&r, k % 16 == 0 ? k + 1 : k); /* small documents: a fast race */
            assert_int_equal(parsework_submit(w, &feeds[k], &r), 0);
        }
        for (;;) {
            int seen = __atomic_load_n(&wakes, __ATOMIC_SEQ_CST);
            struct parsework_job *j;
            double deadline;

            while ((j = parsework_next_done(w, 0)) != NULL) {
                assert_ptr_equal(j->fd, &feeds[got]);
                got++;
                parsework_job_free(&j);
            }
            if (got == N)
                break;
            deadline = now_s() + 20;
            while (__atomic_load_n(&wakes, __ATOMIC_SEQ_CST) == seen) {
                assert_true(now_s() < deadline); /* a lost wake-up */
                usleep(50);
            }
        }
        assert_int_equal(parsework_outstanding(w), 0);
        parsework_destroy(&w);
    }
}

/* Shutdown with documents queued and being parsed: they are dropped, and
 * everything they held is freed. */
static void test_destroy_with_jobs(void **state)
{
    enum { N = 40 };
    struct fs_feed feeds[N];
    struct parsework *w = NULL;
    na_error err;
    int k;

    (void)state;
    assert_int_equal(parsework_new(3, NULL, NULL, &w, &err), 0);
    for (k = 0; k < N; k++) {
        struct poller_result r;

        memset(&feeds[k], 0, sizeof(feeds[k]));
        feeds[k].url = (char *)"https://f.example/feed";
        fill_result(&r, k);
        assert_int_equal(parsework_submit(w, &feeds[k], &r), 0);
    }
    parsework_destroy(&w);
    assert_null(w);
    parsework_destroy(&w); /* NULL-safe */
    parsework_job_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_results),
        cmocka_unit_test(test_no_lost_wakeup),
        cmocka_unit_test(test_destroy_with_jobs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

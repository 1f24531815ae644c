/*
 * test_client_oom.c - the client library (common/naclient.c, built into
 * the test) never moves its position past an alert it could not keep.
 *
 * A fake matcher is played in this thread, as in tests/test_client.c.  The
 * test is linked with -Wl,--wrap=malloc,--wrap=realloc (the mechanism of
 * tests/test_rules_oom.c); the wrappers fail the next allocation of one
 * chosen size: the copy of one alert's body (its size is made unique), or
 * the first growth of the queue of alerts ready for the application.
 * Checked: an alert of a replay batch that cannot be copied is asked for
 * again (not skipped while the batch's end marker moves the position past
 * it); a live alert that cannot be queued is replayed; and a replay reply
 * that cannot be read does not let the end marker that follows it skip
 * what it carried.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "fake_endpoints.h"
#include "naclient.h"
#include "wire.h"

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);

static atomic_size_t fail_size; /* 0: fail nothing */
static atomic_long fail_left;

static int should_fail(size_t n)
{
    return n == atomic_load(&fail_size) && atomic_load(&fail_left) > 0 &&
           atomic_fetch_sub(&fail_left, 1) > 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail(n) ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail(n) ? NULL : __real_realloc(p, n);
}

/* The body of alert seq: the matcher's compact form; alert 5's is padded
 * to BODY5_LEN bytes, a size nothing else here allocates (+ 1). */
#define BODY5_LEN 1000

static void body_of(int64_t seq, char *buf, size_t size)
{
    int n = snprintf(buf, size, "{\"v\":1,\"seq\":%lld,\"rule\":{\"id\":\"t\"},\"pad\":\"",
                     (long long)seq);

    assert_true(n > 0 && (size_t)n + 3 < size);
    if (seq == 5) {
        assert_true(BODY5_LEN < size);
        memset(buf + n, 'p', (size_t)(BODY5_LEN - n - 2));
        n = BODY5_LEN - 2;
    }
    memcpy(buf + n, "\"}", 3);
}

static struct naclient *open_client(struct fake_endpoints *f, int64_t since)
{
    const char *topics[] = {"t"};
    struct naclient_opts o = {0};
    struct naclient *c = NULL;
    char errbuf[256];

    o.alerts_endpoint = f->alerts;
    o.replay_endpoint = f->replay;
    o.topics = topics;
    o.ntopics = 1;
    o.since = since;
    o.replay_timeout_ms = 400;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), 0);
    return c;
}

/* Wait for the client's next replay request; returns its `after` and sets
 * *id.  Alerts the client hands out meanwhile fail the test. */
static int64_t take_request(struct fake_endpoints *f, struct naclient *c, int64_t *id)
{
    for (int i = 0; i < 200; i++) {
        zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};
        struct naclient_alert a;

        if (zmq_poll(&pi, 1, 0) > 0) {
            struct wire_replay_req req;
            na_error err;
            int64_t after;

            assert_int_equal(wire_recv_replay_req(f->router, 0, &f->peer, &req, &err), 0);
            *id = req.id;
            after = req.head_only ? -1 : req.after;
            wire_replay_req_clear(&req);
            return after;
        }
        if (naclient_next(c, 20, &a) == 1)
            fail_msg("alert %lld came before the replay request", (long long)a.seq);
    }
    fail_msg("no replay request came");
    return -2;
}

/* Answer request id with a batch of seqs[0..n) (n may be 0) and its end. */
static void answer(struct fake_endpoints *f, int64_t id, const int64_t *seqs, size_t n,
                   int64_t last)
{
    const char *topics[4], *bodies[4];
    char b[4][BODY5_LEN + 64];
    size_t lens[4];

    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        body_of(seqs[i], b[i], sizeof(b[i]));
        topics[i] = "t";
        bodies[i] = b[i];
        lens[i] = strlen(b[i]);
    }
    if (n > 0)
        assert_int_equal(wire_send_replay_batch(f->router, &f->peer, id, topics, bodies, lens, n),
                         0);
    assert_int_equal(wire_send_replay_end(f->router, &f->peer, id, last, last, 1), 0);
}

static void expect_alert(struct naclient *c, int64_t seq)
{
    struct naclient_alert a;
    int rc = naclient_next(c, 3000, &a);

    assert_int_equal(rc, 1);
    assert_int_equal(a.seq, seq);
    naclient_alert_clear(&a);
}

/* Replay batch {4, 5, 6}: alert 5's copy fails.  4 comes, then the
 * request goes again after 4, and 5 and 6 come from its answer. */
static void test_replay_batch_oom(void **state)
{
    struct fake_endpoints *f = *state;
    struct naclient *c = open_client(f, 3);
    int64_t id;

    assert_int_equal(take_request(f, c, &id), 3);
    atomic_store(&fail_size, BODY5_LEN + 1);
    atomic_store(&fail_left, 1);
    answer(f, id, (const int64_t[]){4, 5, 6}, 3, 6);
    expect_alert(c, 4);
    assert_int_equal(atomic_load(&fail_left), 0); /* the copy of 5 failed */
    atomic_store(&fail_size, 0);
    assert_int_equal(take_request(f, c, &id), 4);
    answer(f, id, (const int64_t[]){5, 6}, 2, 6);
    expect_alert(c, 5);
    expect_alert(c, 6);
    naclient_destroy(&c);
}

/* Live alert 7 follows the position (6) but the ready queue cannot grow
 * (its first allocation: 256 entries of struct nac_msg, 32 bytes): it is
 * not lost, a replay after 6 brings it. */
static void test_live_queue_oom(void **state)
{
    struct fake_endpoints *f = *state;
    struct naclient *c = open_client(f, 6);
    struct naclient_alert a;
    char b[256];
    int64_t id;

    assert_int_equal(take_request(f, c, &id), 6);
    answer(f, id, NULL, 0, 6);
    /* let the end marker in and the subscription settle */
    for (int i = 0; i < 10; i++)
        assert_int_equal(naclient_next(c, 30, &a), 0);
    atomic_store(&fail_size, 256 * 32);
    atomic_store(&fail_left, 1);
    body_of(7, b, sizeof(b));
    assert_int_equal(wire_send_alert(f->pub, "t", b, strlen(b), 0), 0);
    assert_int_equal(take_request(f, c, &id), 6);
    assert_int_equal(atomic_load(&fail_left), 0);
    atomic_store(&fail_size, 0);
    answer(f, id, (const int64_t[]){7}, 1, 7);
    expect_alert(c, 7);
    naclient_destroy(&c);
}

/* A reply that cannot be read (here: a batch whose header is garbage) may
 * have carried alerts: the end marker after it must not move the position
 * past them; the request goes again. */
static void test_unreadable_reply(void **state)
{
    struct fake_endpoints *f = *state;
    struct naclient *c = open_client(f, 3);
    char b[256];
    int64_t id;

    assert_int_equal(take_request(f, c, &id), 3);
    body_of(4, b, sizeof(b));
    assert_int_equal(zmq_send(f->router, f->peer.id, f->peer.len, ZMQ_SNDMORE), (int)f->peer.len);
    assert_int_equal(zmq_send(f->router, "{not json", 9, ZMQ_SNDMORE), 9);
    assert_int_equal(zmq_send(f->router, "t", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(f->router, b, strlen(b), 0), (int)strlen(b));
    assert_int_equal(wire_send_replay_end(f->router, &f->peer, id, 4, 4, 1), 0);
    assert_int_equal(take_request(f, c, &id), 3);
    answer(f, id, (const int64_t[]){4}, 1, 4);
    expect_alert(c, 4);
    naclient_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_batch_oom, fake_endpoints_setup,
                                        fake_endpoints_teardown),
        cmocka_unit_test_setup_teardown(test_live_queue_oom, fake_endpoints_setup,
                                        fake_endpoints_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_reply, fake_endpoints_setup,
                                        fake_endpoints_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

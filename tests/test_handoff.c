/*
 * test_handoff.c - the fetcher's side of the acknowledged hand-off: the
 * window bounds what is in flight, acks delete from the outbox, a key
 * already queued is not queued twice, a full outbox refuses, unacknowledged
 * items are sent again after the timeout, and after a restart everything
 * left in the outbox is sent again (a ROUTER in the test plays the matcher).
 * With the outbox in the store (handoff_new_store): nothing leaves before
 * the store commit, a rollback drops outbox and seen rows together, a
 * process killed (SIGKILL) after the commit and before sending loses
 * nothing and one killed before the commit leaves neither outbox nor seen
 * rows; an old separate outbox file is moved in; item JSON left in the
 * outbox by an older fetcher goes as JSON, packed items as packed; acks of
 * 1024 large tags are accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "handoff.h"
#include "item.h"
#include "item_pack.h"
#include "store.h"
#include "wire.h"

static char dir[] = "/tmp/test-handoff-XXXXXX";
static int nendpoint;

struct fix {
    void *ctx;
    void *router;
    char endpoint[64];
    char db[512];
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    int timeout = 2000;

    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    snprintf(f->endpoint, sizeof(f->endpoint), "inproc://handoff-%d", nendpoint++);
    snprintf(f->db, sizeof(f->db), "%s/outbox-%d.db", dir, nendpoint);
    assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
    zmq_setsockopt(f->router, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    int linger = 0;

    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    free(f);
    return 0;
}

static struct handoff *open_h(struct fix *f, int window, int resend_ms, int64_t max_pending)
{
    struct handoff_opts o = {window, resend_ms, max_pending};
    struct handoff *h = NULL;
    na_error err;

    na_error_clear(&err);
    assert_int_equal(handoff_new(f->ctx, f->endpoint, f->db, &o, &h, &err), 0);
    return h;
}

static int submit(struct handoff *h, int n)
{
    struct item *it = item_new();
    char id[32];
    int rc;

    snprintf(id, sizeof(id), "item-%d", n);
    item_set(&it->id, id);
    item_set(&it->feed, "http://example.org/f");
    item_set(&it->title, "a title");
    rc = handoff_submit(h, "http://example.org/f", it);
    item_free(&it);
    return rc;
}

/* Receive what is waiting on the router (up to max), recording tags and
 * item ids; returns how many came. */
static int take(struct fix *f, struct wire_peer *peer, int64_t *tags, char ids[][32], int max,
                int wait_ms)
{
    int n = 0;

    while (n < max) {
        zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};
        struct item *it = NULL;
        na_error err;

        if (zmq_poll(&pi, 1, n == 0 ? wait_ms : 50) <= 0)
            break;
        assert_int_equal(wire_recv_handoff(f->router, 0, peer, &tags[n], &it, &err), 0);
        snprintf(ids[n], 32, "%s", it->id);
        item_free(&it);
        n++;
    }
    return n;
}

static void test_window_and_acks(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 4, 60000, 0);
    struct wire_peer peer;
    int64_t tags[16];
    char ids[16][32];
    int i, n;

    for (i = 0; i < 10; i++)
        assert_int_equal(submit(h, i), 1);
    assert_int_equal(submit(h, 3), 0); /* the same key again */
    assert_int_equal(handoff_pending(h), 10);
    assert_int_equal(handoff_poll(h, 0), 0);
    n = take(f, &peer, tags, ids, 16, 1000);
    assert_int_equal(n, 4); /* the window */
    assert_int_equal(handoff_in_flight(h), 4);
    assert_string_equal(ids[0], "item-0");
    assert_string_equal(ids[3], "item-3");
    assert_int_equal(wire_send_acks(f->router, &peer, tags, 2), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 8; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 8);
    n = take(f, &peer, tags, ids, 16, 1000);
    assert_int_equal(n, 2); /* two slots came free */
    assert_string_equal(ids[0], "item-4");
    assert_int_equal(handoff_in_flight(h), 4);
    handoff_destroy(&h);
    assert_null(h);
}

static void test_resend_and_restart(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 8, 200, 5);
    struct handoff_stats st;
    struct wire_peer peer;
    int64_t tags[16], first[16];
    char ids[16][32];
    int i, n;

    for (i = 0; i < 5; i++)
        assert_int_equal(submit(h, i), 1);
    assert_int_equal(submit(h, 99), -2); /* full */
    assert_int_equal(handoff_poll(h, 0), 0);
    n = take(f, &peer, first, ids, 16, 1000);
    assert_int_equal(n, 5);
    /* no ack: after the timeout the same tags come again */
    usleep(300000);
    assert_int_equal(handoff_poll(h, 0), 0);
    n = take(f, &peer, tags, ids, 16, 1000);
    assert_int_equal(n, 5);
    assert_memory_equal(tags, first, 5 * sizeof(tags[0]));
    handoff_get_stats(h, &st);
    assert_true(st.resent >= 5);
    /* ack one, then "crash": the rest is sent again by the next process */
    assert_int_equal(wire_send_acks(f->router, &peer, tags, 1), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 4; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 4);
    handoff_destroy(&h);
    h = open_h(f, 8, 60000, 0);
    assert_int_equal(handoff_pending(h), 4);
    assert_int_equal(handoff_poll(h, 0), 0);
    n = take(f, &peer, tags, ids, 16, 1000);
    assert_int_equal(n, 4);
    assert_string_equal(ids[0], "item-1");
    assert_string_equal(ids[3], "item-4");
    assert_int_equal(wire_send_acks(f->router, &peer, tags, 4), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 0; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 0);
    assert_int_equal(handoff_in_flight(h), 0);
    handoff_destroy(&h);
}

static void test_bad_acks(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 8, 60000, 0);
    struct handoff_stats st;
    struct wire_peer peer;
    int64_t tags[4];
    char ids[4][32];

    assert_int_equal(submit(h, 1), 1);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 4, 1000), 1);
    zmq_send(f->router, peer.id, peer.len, ZMQ_SNDMORE);
    zmq_send(f->router, "{\"v\":1,\"op\":\"ack\",\"tags\":[\"x\"]}", 31, 0);
    zmq_send(f->router, peer.id, peer.len, ZMQ_SNDMORE);
    zmq_send(f->router, "garbage", 7, 0);
    usleep(100000);
    assert_int_equal(handoff_poll(h, 0), 0);
    handoff_get_stats(h, &st);
    assert_int_equal(st.bad_acks, 2);
    assert_int_equal(handoff_pending(h), 1);
    handoff_destroy(&h);
}

static struct handoff *open_store_h(struct fix *f, struct store **st, const char *old_outbox)
{
    struct handoff_opts o = {8, 60000, 0};
    struct handoff *h = NULL;
    char path[600];
    na_error err;

    snprintf(path, sizeof(path), "%s/fetcher-%d.db", dir, nendpoint);
    na_error_clear(&err);
    assert_int_equal(store_open(path, st, &err), 0);
    if (handoff_new_store(f->ctx, f->endpoint, *st, old_outbox, &o, &h, &err) != 0)
        fail_msg("handoff_new_store: %s", err.msg);
    return h;
}

/* Queue item n and record it as seen, as ingest does. */
static int submit_seen(struct handoff *h, struct store *st, int n)
{
    char id[32];
    int rc = submit(h, n);

    snprintf(id, sizeof(id), "item-%d", n);
    if (rc == 1 && store_seen_record(st, "http://example.org/f", id, 0, 1000) < 0)
        return -1;
    return rc;
}

static int seen(struct store *st, int n)
{
    char id[32];

    snprintf(id, sizeof(id), "item-%d", n);
    return store_seen_has(st, "http://example.org/f", id);
}

static void test_store_transaction(void **state)
{
    struct fix *f = *state;
    struct store *st = NULL;
    struct handoff *h = open_store_h(f, &st, NULL);
    struct wire_peer peer;
    int64_t tags[16];
    char ids[16][32];
    int i;

    assert_int_equal(submit(h, 1), -1); /* outside a transaction */
    assert_non_null(strstr(handoff_errmsg(h), "outside a store transaction"));
    /* rolled back: neither in the outbox nor seen, and never sent */
    assert_int_equal(store_begin(st), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(submit_seen(h, st, i), 1);
    assert_int_equal(store_rollback(st), 0);
    handoff_rolled_back(h);
    assert_int_equal(handoff_pending(h), 0);
    assert_int_equal(seen(st, 0), 0);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 200), 0);
    /* committed: seen and queued together, sent only after the commit */
    assert_int_equal(store_begin(st), 0);
    for (i = 10; i < 13; i++)
        assert_int_equal(submit_seen(h, st, i), 1);
    assert_int_equal(take(f, &peer, tags, ids, 16, 200), 0);
    assert_int_equal(store_commit(st), 0);
    handoff_committed(h);
    assert_int_equal(handoff_pending(h), 3);
    assert_int_equal(seen(st, 11), 1);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 1000), 3);
    assert_string_equal(ids[0], "item-10");
    assert_string_equal(ids[2], "item-12");
    assert_int_equal(wire_send_acks(f->router, &peer, tags, 3), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 0; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 0);
    handoff_destroy(&h);
    store_close(&st);
}

/* The fetcher's per-turn transaction: one store transaction, a savepoint
 * per document; a document rolled back alone takes only its own items
 * (outbox and seen set), the others leave after the one commit.  Items
 * may come pre-serialised (handoff_submit_json), and acks out of order,
 * repeated, in several messages at once are applied together. */
static void test_store_savepoints(void **state)
{
    struct fix *f = *state;
    struct store *st = NULL;
    struct handoff *h = open_store_h(f, &st, NULL);
    struct wire_peer peer;
    struct item *it = item_new();
    int64_t tags[16], mark, acks[4];
    char ids[16][32], *json;
    int i;

    assert_int_equal(store_savepoint(st), -1); /* no transaction */
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_in_transaction(st), 1);
    /* document 1: kept */
    assert_int_equal(store_savepoint(st), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(submit_seen(h, st, i), 1);
    assert_int_equal(store_release(st), 0);
    /* document 2: rolled back alone */
    mark = handoff_mark(h);
    assert_int_equal(mark, 3);
    assert_int_equal(store_savepoint(st), 0);
    for (i = 3; i < 5; i++)
        assert_int_equal(submit_seen(h, st, i), 1);
    assert_int_equal(store_rollback_to(st), 0);
    handoff_rolled_back_to(h, mark);
    assert_int_equal(store_in_transaction(st), 1);
    /* document 3: kept, its item already serialised */
    assert_int_equal(store_savepoint(st), 0);
    item_set(&it->id, "item-5");
    item_set(&it->title, "pre-made");
    json = item_to_json(it);
    assert_int_equal(handoff_submit_json(h, "http://example.org/f", it->id, json, strlen(json)),
                     1);
    assert_int_equal(handoff_submit_json(h, "http://example.org/f", it->id, json, strlen(json)),
                     0); /* already queued */
    assert_int_equal(store_seen_record(st, "http://example.org/f", "item-5", 0, 1000), 1);
    assert_int_equal(store_release(st), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 200), 0); /* nothing before the commit */
    assert_int_equal(store_commit(st), 0);
    handoff_committed(h);
    assert_int_equal(handoff_pending(h), 4);
    assert_int_equal(seen(st, 2), 1);
    assert_int_equal(seen(st, 3), 0);
    assert_int_equal(seen(st, 4), 0);
    assert_int_equal(seen(st, 5), 1);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 1000), 4);
    assert_string_equal(ids[0], "item-0");
    assert_string_equal(ids[2], "item-2");
    assert_string_equal(ids[3], "item-5");
    /* acks: in two messages, out of order, one repeated, applied at once */
    acks[0] = tags[3];
    acks[1] = tags[0];
    acks[2] = tags[3];
    assert_int_equal(wire_send_acks(f->router, &peer, acks, 3), 0);
    acks[0] = tags[2];
    acks[1] = tags[1];
    assert_int_equal(wire_send_acks(f->router, &peer, acks, 2), 0);
    usleep(100000);
    for (i = 0; i < 50 && handoff_pending(h) > 0; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 0);
    assert_int_equal(handoff_in_flight(h), 0);
    /* rolled back to a savepoint after SQLite dropped the transaction: an
     * error, not a silent commit */
    assert_int_equal(store_rollback_to(st), -1);
    free(json);
    item_free(&it);
    handoff_destroy(&h);
    store_close(&st);
}

/* The child of test_store_kill9: commit items 0..4 (seen + outbox), open a
 * second transaction with items 5..9, and die by SIGKILL before sending
 * anything or committing the second batch. */
static void kill9_child(const char *path)
{
    void *ctx = zmq_ctx_new();
    struct handoff_opts o = {8, 60000, 0};
    struct store *st = NULL;
    struct handoff *h = NULL;
    na_error err;
    int i;

    if (ctx == NULL || store_open(path, &st, &err) != 0 ||
        handoff_new_store(ctx, "tcp://127.0.0.1:9", st, NULL, &o, &h, &err) != 0 ||
        store_begin(st) != 0)
        _exit(2);
    for (i = 0; i < 5; i++)
        if (submit_seen(h, st, i) != 1)
            _exit(3);
    if (store_commit(st) != 0)
        _exit(4);
    handoff_committed(h);
    if (store_begin(st) != 0)
        _exit(5);
    for (i = 5; i < 10; i++)
        if (submit_seen(h, st, i) != 1)
            _exit(6);
    raise(SIGKILL);
    _exit(7);
}

static void test_store_kill9(void **state)
{
    struct fix *f = *state;
    struct store *st = NULL;
    struct handoff *h;
    struct wire_peer peer;
    int64_t tags[16];
    char ids[16][32], path[600];
    int i, status;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/fetcher-%d.db", dir, nendpoint);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        kill9_child(path);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    h = open_store_h(f, &st, NULL);
    assert_int_equal(handoff_pending(h), 5); /* the committed batch only */
    for (i = 0; i < 10; i++)
        assert_int_equal(seen(st, i), i < 5 ? 1 : 0);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 1000), 5);
    assert_string_equal(ids[0], "item-0");
    assert_string_equal(ids[4], "item-4");
    assert_int_equal(wire_send_acks(f->router, &peer, tags, 5), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 0; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    assert_int_equal(handoff_pending(h), 0);
    handoff_destroy(&h);
    store_close(&st);
}

static void test_old_outbox_moved(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 8, 60000, 0);
    struct store *st = NULL;
    struct wire_peer peer;
    int64_t tags[16];
    char ids[16][32];

    /* an outbox file of the earlier layout, not connected to anyone yet */
    assert_int_equal(submit(h, 1), 1);
    assert_int_equal(submit(h, 2), 1);
    handoff_destroy(&h);
    assert_int_equal(take(f, &peer, tags, ids, 16, 300), 2); /* sent, never acked */
    h = open_store_h(f, &st, f->db);
    assert_int_equal(access(f->db, F_OK), -1); /* moved in, file gone */
    assert_int_equal(handoff_pending(h), 2);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, tags, ids, 16, 1000), 2);
    assert_string_equal(ids[0], "item-1");
    assert_string_equal(ids[1], "item-2");
    handoff_destroy(&h);
    store_close(&st);
}

/* After an upgrade the outbox may hold item JSON written by an older
 * fetcher beside packed items: each row goes with its own op ("item" for
 * JSON, "packed_item" for packed items) and decodes to the item that
 * was queued, also when sent again after a restart. */
static void test_outbox_json_and_packed(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 16, 60000, 0);
    struct item *it = item_new();
    unsigned char *rec;
    char *json;
    size_t len;
    int round, i;

    /* rows as an older fetcher wrote them (item_to_json), and packed rows
     * (handoff_submit packs; handoff_submit_packed takes a record made
     * elsewhere, as the fetcher's parse thread does) */
    for (i = 0; i < 6; i++) {
        char id[32];

        snprintf(id, sizeof(id), "item-%d", i);
        item_set(&it->id, id);
        item_set(&it->title, i % 2 == 0 ? "json \xc3\xa9" : "packed \xc3\xa9");
        it->published = 1700000000 + i;
        if (i % 2 == 0) {
            json = item_to_json(it);
            assert_int_equal(
                handoff_submit_json(h, "http://example.org/f", it->id, json, strlen(json)), 1);
            free(json);
        } else if (i == 1) {
            assert_int_equal(handoff_submit(h, "http://example.org/f", it), 1);
        } else {
            assert_non_null(rec = item_pack_encode(it, &len));
            assert_int_equal(handoff_submit_packed(h, "http://example.org/f", it->id, rec, len),
                             1);
            assert_int_equal(handoff_submit_packed(h, "http://example.org/f", it->id, rec, len),
                             0); /* already queued */
            free(rec);
        }
    }
    /* not a packed record */
    assert_int_equal(handoff_submit_packed(h, "http://example.org/f", "x", "{\"id\":\"x\"}", 10),
                     -1);
    assert_non_null(strstr(handoff_errmsg(h), "not a packed item"));
    for (round = 0; round < 2; round++) {
        if (round == 1) { /* a restart: what was not acknowledged goes again */
            handoff_destroy(&h);
            h = open_h(f, 16, 60000, 0);
            assert_int_equal(handoff_pending(h), 6);
        }
        assert_int_equal(handoff_poll(h, 0), 0);
        for (i = 0; i < 6; i++) {
            zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};
            struct wire_peer peer;
            struct item *got = NULL;
            char *data = NULL;
            int64_t tag;
            int enc = -1;
            na_error err;
            char id[32];

            assert_int_equal(zmq_poll(&pi, 1, 2000), 1);
            assert_int_equal(
                wire_recv_handoff_raw(f->router, 0, &peer, &tag, &enc, &data, &len, &err), 0);
            assert_int_equal(enc, i % 2 == 0 ? WIRE_ENC_JSON : WIRE_ENC_PACKED);
            assert_int_equal(data[0] == '{', i % 2 == 0);
            assert_int_equal(wire_decode_item(enc, data, len, &got, &err), 0);
            snprintf(id, sizeof(id), "item-%d", i);
            assert_string_equal(got->id, id);
            assert_string_equal(got->title, i % 2 == 0 ? "json \xc3\xa9" : "packed \xc3\xa9");
            assert_true(got->published == 1700000000 + i);
            item_free(&got);
            free(data);
        }
    }
    handoff_destroy(&h);
    item_free(&it);
}

static void test_big_ack(void **state)
{
    struct fix *f = *state;
    struct handoff *h = open_h(f, 8, 60000, 0);
    struct handoff_stats st;
    struct wire_peer peer;
    int64_t tags[WIRE_MAX_ACKS], got[4];
    char ids[4][32];
    int i;

    assert_int_equal(submit(h, 1), 1);
    assert_int_equal(handoff_poll(h, 0), 0);
    assert_int_equal(take(f, &peer, got, ids, 4, 1000), 1);
    /* the largest ack the protocol allows, 19-digit tags: over 20 KB */
    for (i = 0; i < WIRE_MAX_ACKS - 1; i++)
        tags[i] = INT64_MAX - i;
    tags[WIRE_MAX_ACKS - 1] = got[0];
    assert_int_equal(wire_send_acks(f->router, &peer, tags, WIRE_MAX_ACKS), 0);
    for (i = 0; i < 50 && handoff_pending(h) > 0; i++)
        assert_int_equal(handoff_poll(h, 20), 0);
    handoff_get_stats(h, &st);
    assert_int_equal(st.bad_acks, 0);
    assert_int_equal(handoff_pending(h), 0);
    handoff_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_window_and_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_outbox_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_json_and_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_ack, setup, teardown),
    };
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return rc;
}

/*
 * test_wire.c - the ZeroMQ framing: round trips of items and alerts, and
 * hostile messages (wrong part counts, oversize parts, bad UTF-8 topics,
 * bad JSON, wrong versions, thousands of parts).  After every bad message
 * the same socket must deliver the next good one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "alert.h"
#include "item.h"
#include "wire.h"

struct pair {
    void *ctx;
    void *tx; /* PAIR, bound */
    void *rx; /* PAIR, connected */
};

static int setup(void **state)
{
    static int n;
    struct pair *p = calloc(1, sizeof(*p));
    char ep[64];
    int timeout = 5000;

    snprintf(ep, sizeof(ep), "inproc://test-wire-%d", n++);
    p->ctx = zmq_ctx_new();
    p->tx = zmq_socket(p->ctx, ZMQ_PAIR);
    p->rx = zmq_socket(p->ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(p->tx, ep), 0);
    assert_int_equal(zmq_connect(p->rx, ep), 0);
    /* a test that waits for a message that never comes fails, not hangs */
    zmq_setsockopt(p->rx, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;

    zmq_close(p->tx);
    zmq_close(p->rx);
    zmq_ctx_term(p->ctx);
    free(p);
    return 0;
}

/* Send the given parts as one message. */
static void send_parts(void *sock, size_t n, const char *const *parts, const size_t *lens)
{
    for (size_t i = 0; i < n; i++)
        assert_true(zmq_send(sock, parts[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static void send_raw2(void *sock, const char *topic, size_t tlen, const char *body, size_t blen)
{
    const char *parts[] = {topic, body};
    const size_t lens[] = {tlen, blen};

    send_parts(sock, 2, parts, lens);
}

static char *good_alert(const char *rule, int64_t seq)
{
    struct item *it = item_new();
    char *body;

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "id-1"), 0);
    assert_int_equal(item_set(&it->title, "A title"), 0);
    body = alert_build(rule, "Rule", it, seq, 1700000000);
    assert_non_null(body);
    item_free(&it);
    return body;
}

/* Send a good alert and check that it is the next thing received. */
static void check_still_works(struct pair *p, int64_t seq)
{
    char *body = good_alert("good", seq);
    char *topic = NULL, *got = NULL;
    na_error err;

    assert_int_equal(wire_send_alert(p->tx, "good", body, strlen(body), 0), 0);
    assert_int_equal(wire_recv_alert(p->rx, 0, &topic, &got, &err), 0);
    assert_string_equal(topic, "good");
    assert_string_equal(got, body);
    free(topic);
    free(got);
    free(body);
}

/* Receive one alert message that must be rejected with a message
 * containing `want`, then check the socket still works. */
static void expect_bad_alert(struct pair *p, const char *want)
{
    char *topic = (char *)"x", *body = (char *)"x";
    na_error err;

    na_error_clear(&err);
    assert_int_equal(wire_recv_alert(p->rx, 0, &topic, &body, &err), -1);
    assert_null(topic);
    assert_null(body);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
    check_still_works(p, 7);
}

static void test_item_round_trip(void **state)
{
    struct pair *p = *state;
    struct item *it = item_new(), *got = NULL;
    na_error err;

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "urn:1"), 0);
    assert_int_equal(item_set(&it->title, "Caf\xc3\xa9 news"), 0);
    assert_int_equal(item_set(&it->link, "https://example.org/1"), 0);
    assert_int_equal(item_set(&it->feed, "https://example.org/feed"), 0);
    assert_int_equal(item_add_category(it, "world"), 0);
    it->published = 1700000000;
    assert_int_equal(wire_send_item(p->tx, it, 0), 0);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), 0);
    assert_non_null(got);
    assert_string_equal(got->id, "urn:1");
    assert_string_equal(got->title, "Caf\xc3\xa9 news");
    assert_string_equal(got->link, "https://example.org/1");
    assert_string_equal(got->feed, "https://example.org/feed");
    assert_int_equal(got->ncategories, 1);
    assert_string_equal(got->categories[0], "world");
    assert_true(got->published == 1700000000);
    item_free(&got);
    item_free(&it);
}

static void test_item_hostile(void **state)
{
    struct pair *p = *state;
    struct item *it = item_new(), *got = NULL;
    const char *two[] = {"{\"id\":\"a\"}", "{\"id\":\"b\"}"};
    const size_t twol[] = {10, 10};
    size_t big = WIRE_MAX_ITEM + 1;
    char *huge = malloc(big);
    na_error err;

    assert_non_null(it);
    assert_non_null(huge);
    assert_int_equal(item_set(&it->id, "ok"), 0);

    send_parts(p->tx, 2, two, twol);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), -1);
    assert_null(got);
    assert_non_null(strstr(err.msg, "2 parts"));

    memset(huge, ' ', big);
    assert_true(zmq_send(p->tx, huge, big, 0) >= 0);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), -1);
    assert_non_null(strstr(err.msg, "exceeds"));

    assert_true(zmq_send(p->tx, "{\"id\":\"tr", 9, 0) >= 0);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), -1);
    assert_null(got);
    assert_non_null(strstr(err.msg, "item message"));

    assert_true(zmq_send(p->tx, "{\"title\":\"no id\"}", 17, 0) >= 0);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), -1);
    assert_null(got);

    /* still in step */
    assert_int_equal(wire_send_item(p->tx, it, 0), 0);
    assert_int_equal(wire_recv_item(p->rx, 0, &got, &err), 0);
    assert_string_equal(got->id, "ok");
    item_free(&got);
    item_free(&it);
    free(huge);
}

static void test_nothing_waiting(void **state)
{
    struct pair *p = *state;
    struct item *got = NULL;
    char *topic = NULL, *body = NULL;
    na_error err;

    errno = 0;
    assert_int_equal(wire_recv_item(p->rx, ZMQ_DONTWAIT, &got, &err), -2);
    assert_int_equal(errno, EAGAIN);
    errno = 0;
    assert_int_equal(wire_recv_alert(p->rx, ZMQ_DONTWAIT, &topic, &body, &err), -2);
    assert_int_equal(errno, EAGAIN);
    assert_null(topic);
    assert_null(body);
}

static void test_alert_round_trip(void **state)
{
    check_still_works(*state, 1);
}

static void test_alert_pubsub(void **state)
{
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB), *sub = zmq_socket(ctx, ZMQ_SUB);
    char *body = good_alert("rule-\xc3\xa9", 5), *topic = NULL, *got = NULL;
    na_error err;
    int rc = -2;

    (void)state;
    assert_int_equal(zmq_bind(pub, "inproc://test-wire-pubsub"), 0);
    assert_int_equal(zmq_connect(sub, "inproc://test-wire-pubsub"), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "rule-", 5), 0);
    /* the subscription travels asynchronously: resend until it arrives */
    for (int i = 0; i < 500 && rc == -2; i++) {
        assert_int_equal(wire_send_alert(pub, "other", "{}", 2, 0), 0);
        assert_int_equal(wire_send_alert(pub, "rule-\xc3\xa9", body, strlen(body), 0), 0);
        zmq_poll(&(zmq_pollitem_t){sub, 0, ZMQ_POLLIN, 0}, 1, 10);
        rc = wire_recv_alert(sub, ZMQ_DONTWAIT, &topic, &got, &err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(topic, "rule-\xc3\xa9");
    assert_string_equal(got, body);
    free(topic);
    free(got);
    free(body);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

static void test_alert_part_counts(void **state)
{
    struct pair *p = *state;
    char *body = good_alert("r", 1);
    const char *three[] = {"r", body, "extra"};
    const size_t threel[] = {1, strlen(body), 5};
    const char **many;
    size_t *manyl;
    const size_t nmany = 5000;

    assert_true(zmq_send(p->tx, "r", 1, 0) >= 0);
    expect_bad_alert(p, "1 part");

    send_parts(p->tx, 3, three, threel);
    expect_bad_alert(p, "3 parts");

    many = calloc(nmany, sizeof(*many));
    manyl = calloc(nmany, sizeof(*manyl));
    assert_non_null(many);
    assert_non_null(manyl);
    for (size_t i = 0; i < nmany; i++) {
        many[i] = i == 0 ? "r" : body;
        manyl[i] = i == 0 ? 1 : strlen(body);
    }
    send_parts(p->tx, nmany, many, manyl);
    expect_bad_alert(p, "5000 parts");
    free(many);
    free(manyl);
    free(body);
}

static void test_alert_bad_topic(void **state)
{
    struct pair *p = *state;
    char *body = good_alert("r", 1);
    char longtopic[WIRE_MAX_TOPIC + 1];
    const char *bad_utf8[] = {
        "\xc3\x28",         /* bad continuation */
        "\xc0\xaf",         /* overlong */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "ab\xe2\x82",       /* truncated */
        "\xff",
    };

    send_raw2(p->tx, "", 0, body, strlen(body));
    expect_bad_alert(p, "topic");

    memset(longtopic, 'a', sizeof(longtopic));
    send_raw2(p->tx, longtopic, sizeof(longtopic), body, strlen(body));
    expect_bad_alert(p, "topic");

    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        send_raw2(p->tx, bad_utf8[i], strlen(bad_utf8[i]), body, strlen(body));
        expect_bad_alert(p, "UTF-8");
    }
    send_raw2(p->tx, "a\0b", 3, body, strlen(body));
    expect_bad_alert(p, "UTF-8");
    free(body);
}

static void test_alert_bad_body(void **state)
{
    struct pair *p = *state;
    char *body = good_alert("r", 1);
    size_t big = WIRE_MAX_ALERT + 1;
    char *huge = malloc(big);
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"v\":1,\"seq\":1,\"rule\":{\"id\":\"r\"", "invalid JSON"},
        {"", "invalid JSON"},
        {"[1]", "not a JSON object"},
        {"{\"v\":2,\"seq\":1}", "\"v\""},
        {"{\"v\":\"1\",\"seq\":1}", "\"v\""},
        {"{\"seq\":1}", "no \"v\""},
        {"{\"v\":1}", "no \"seq\""},
        {"{\"v\":1,\"seq\":-4}", "\"seq\""},
        {"{\"v\":1,\"seq\":1,\"rule\":{\"id\":\"other\"}}", "rule.id"},
        {"{\"v\":1,\"seq\":1,\"rule\":7}", "rule"},
        {"{\"v\":1,\"v\":1,\"seq\":1}", "invalid JSON"},
        {"{\"v\":1,\"seq\":1} trailing", "invalid JSON"},
    };

    assert_non_null(huge);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        send_raw2(p->tx, "r", 1, cases[i].body, strlen(cases[i].body));
        expect_bad_alert(p, cases[i].want);
    }
    send_raw2(p->tx, "r", 1, "{\"v\":1,\"seq\":1}\0", 16);
    expect_bad_alert(p, "NUL");

    memset(huge, ' ', big);
    memcpy(huge, body, strlen(body));
    send_raw2(p->tx, "r", 1, huge, big);
    expect_bad_alert(p, "exceeds");

    /* the sender refuses what a receiver would reject */
    errno = 0;
    assert_int_equal(wire_send_alert(p->tx, "r", huge, big, 0), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(wire_send_alert(p->tx, "", body, strlen(body), 0), -1);
    check_still_works(p, 8);
    free(huge);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_item_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_round_trip, setup, teardown),
        cmocka_unit_test(test_alert_pubsub),
        cmocka_unit_test_setup_teardown(test_alert_part_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_bad_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_bad_body, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

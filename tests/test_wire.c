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
#include <jansson.h>
#include <zmq.h>

#include "alert.h"
#include "item.h"
#include "testutil.h"
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

/* Item headers: the form wire_send_handoff writes and other spellings of
 * the same object are read; anything else is refused with the item. */
static void test_handoff_headers(void **state)
{
    struct pair *p = *state;
    static const struct {
        const char *hdr;
        int rc;
        int64_t tag;
    } cases[] = {
        {"{\"v\":1,\"op\":\"item\",\"tag\":0}", 0, 0},
        {"{\"v\":1,\"op\":\"item\",\"tag\":7}", 0, 7},
        {"{\"v\":1,\"op\":\"item\",\"tag\":123456789012345678}", 0, INT64_C(123456789012345678)},
        {"{\"v\":1,\"op\":\"item\",\"tag\":1234567890123456789}", 0, INT64_C(1234567890123456789)},
        {"{\"v\":1,\"op\":\"item\",\"tag\":99999999999999999999}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":007}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":00}", -1, -1},
        {"{\"v\": 1, \"op\": \"item\", \"tag\": 5}", 0, 5},
        {"{\"tag\":5,\"v\":1,\"op\":\"item\"}", 0, 5},
        {"{\"v\":1,\"op\":\"item\",\"tag\":-1}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":1.5}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":5}x", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":5 }", 0, 5},
        {"{\"v\":1,\"op\":\"item\",\"tag\":5,\"tag\":6}", -1, -1},
        {"{\"v\":2,\"op\":\"item\",\"tag\":5}", -1, -1},
        {"{\"v\":1,\"op\":\"ack\",\"tag\":5}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":\"5\"}", -1, -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":5a}", -1, -1},
    };
    static const char item[] = "{\"id\":\"h\"}";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *parts[] = {"peer", cases[i].hdr, item};
        const size_t lens[] = {4, strlen(cases[i].hdr), strlen(item)};
        struct wire_peer peer;
        struct item *it = NULL;
        int64_t tag = -5;
        na_error err;
        int rc;

        send_parts(p->tx, 3, parts, lens);
        rc = wire_recv_handoff(p->rx, 0, &peer, &tag, &it, &err);
        if (rc != cases[i].rc || (rc == 0 && tag != cases[i].tag))
            fail_msg("header %s: rc %d tag %lld", cases[i].hdr, rc, (long long)tag);
        if (rc == 0) {
            assert_string_equal(it->id, "h");
            assert_int_equal(peer.len, 4);
        } else {
            assert_null(it);
        }
        item_free(&it);
    }
}

/*
 * item_from_json on hostile inputs: a table of texts with the answer each
 * must get, then random items written by item_to_json (every field,
 * hostile strings) read back, and the same texts mutated byte by byte,
 * each answer held to what jansson itself makes of the text.
 */

/* Read buf[0..len): the answer must be want_rc, the error (if any) must
 * contain want_msg (when not NULL), the title (if any) want_title. */
static void check_decode(const char *buf, size_t len, int want_rc, const char *want_msg,
                         const char *want_title)
{
    struct item *it = (struct item *)&it; /* must be reset */
    na_error err;
    int rc;

    na_error_clear(&err);
    rc = item_from_json(buf, len, &it, &err);
    if (rc != want_rc)
        fail_msg("%.*s: rc %d, want %d (%s)", (int)len, buf, rc, want_rc, err.msg);
    if (rc == 0) {
        assert_non_null(it);
        assert_non_null(it->id);
        assert_true(it->id[0] != '\0');
        if (want_title != NULL)
            assert_string_equal(it->title, want_title);
    } else {
        assert_null(it);
        assert_true(err.msg[0] != '\0');
        if (want_msg != NULL && strstr(err.msg, want_msg) == NULL)
            fail_msg("%.*s: message '%s' lacks '%s'", (int)len, buf, err.msg, want_msg);
    }
    item_free(&it);
}

static void test_item_decode_fixed(void **state)
{
    static const struct {
        const char *text;
        int rc;
        const char *msg;   /* part of the error message */
        const char *title; /* the title read */
    } cases[] = {
        {"{\"id\":\"a\"}", 0, NULL, NULL},
        {" \r\n\t{ \"id\" : \"a\" , \"title\" : null }\n ", 0, NULL, NULL},
        {"{\"id\":\"a\",\"v\":1,\"published\":1700000000,\"categories\":[\"x\", \"y\"]}", 0,
         NULL, NULL},
        {"{\"id\":\"a\",\"published\":\"2025-02-12T15:30:00Z\"}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":\"Wed, 12 Feb 2025 15:30:00 GMT\"}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":\"not a date\"}", -1,
         "1:11: item key 'published' is not a date", NULL},
        {"{\"id\":\"a\",\"published\":\"\"}", -1, "is not a date", NULL},
        {"{\"id\":\"a\",\"published\":-0}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":-12}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":012}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"published\":1.5}", -1, "must be a date string or epoch seconds", NULL},
        {"{\"id\":\"a\",\"published\":1e3}", -1, "must be a date string or epoch seconds", NULL},
        {"{\"id\":\"a\",\"published\":999999999999999999}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":99999999999999999999999}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"published\":true}", -1, "must be a date string", NULL},
        {"{\"id\":\"a\",\"published\":null}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"published\":-}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"v\":\"1\"}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"v\":[1]}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"v\":{\"x\":1}}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"v\":1,\"v\":2}", -1, "duplicate object key", NULL},
        {"{\"id\":\"a\",\"id\":\"b\"}", -1, "duplicate object key", NULL},
        {"{\"id\":\"a\",\"title\":\"x\",\"title\":\"x\"}", -1, "duplicate object key", NULL},
        {"{\"\\u0069d\":\"a\",\"ti\\u0074le\":\"t\"}", 0, NULL, "t"},
        {"{\"id\":\"a\",\"nope\":\"t\"}", -1, "1:11: unknown item key 'nope'", NULL},
        {"{\"id\":\"a\",\"a.b[1]\":\"t\"}", -1, "unknown item key 'a.b[1]'", NULL},
        {"{\"id\":\"\"}", -1, "item has no 'id'", NULL},
        {"{\"id\":null}", -1, "item has no 'id'", NULL},
        {"{\"title\":\"x\"}", -1, "item has no 'id'", NULL},
        {"{}", -1, "item has no 'id'", NULL},
        {"[]", -1, "an item must be a JSON object", NULL},
        {"[{\"id\":\"a\"}]", -1, "an item must be a JSON object", NULL},
        {"\"id\"", -1, "invalid JSON", NULL},
        {"", -1, "invalid JSON", NULL},
        {"   ", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\"", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\"}}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\"} x", -1, "invalid JSON", NULL},
        {"\xef\xbb\xbf{\"id\":\"a\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"title\":1}", -1, "1:11: item key 'title' must be a string", NULL},
        {"{\"id\":\"a\",\"title\":[\"x\"]}", -1, "item key 'title' must be a string", NULL},
        {"{\"id\":\"a\",\"categories\":[ ]}", 0, NULL, NULL},
        {"{\"id\":\"a\",\"categories\":[\"x\",]}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"categories\":[\"x\" \"y\"]}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"categories\":[\"x\",1]}", -1, "item categories[1] must be a string",
         NULL},
        {"{\"id\":\"a\",\"categories\":[null]}", -1, "categories[0] must be a string", NULL},
        {"{\"id\":\"a\",\"categories\":null}", -1, "'categories' must be an array", NULL},
        {"{\"id\":\"a\",\"categories\":\"x\"}", -1, "'categories' must be an array", NULL},
        {"{\"id\":\"a\",\"title\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}", 0, NULL,
         "a\"b\\c/d\b\f\n\r\t"},
        {"{\"id\":\"a\",\"title\":\"\\u00e9\\u20AC\\uFFFF\"}", 0, NULL,
         "\xc3\xa9\xe2\x82\xac\xef\xbf\xbf"},
        {"{\"id\":\"a\",\"title\":\"\\ud83d\\ude00x\"}", 0, NULL, "\xf0\x9f\x98\x80x"},
        {"{\"id\":\"\\ud83d\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"\\ud83d\\u0041\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"\\ude00\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\\u0000b\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"\\u12g4\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"\\x41\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\\\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"tab\there\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"nl\nhere\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"title\":\"del\x7fhere\"}", 0, NULL, "del\x7fhere"},
        {"{\"id\":\"a\",\"title\":\"caf\xc3\xa9 \xe6\x9d\xb1 \xf0\x9f\x98\x80\"}", 0, NULL,
         "caf\xc3\xa9 \xe6\x9d\xb1 \xf0\x9f\x98\x80"},
        {"{\"id\":\"bad \xc3\x28\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"bad \xc0\xaf\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"bad \xe0\x80\xaf\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"bad \xed\xa0\x80\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"bad \xf4\x90\x80\x80\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"bad \xff\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"cut \xe2\x82\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"\xc3\xa9\":\"x\"}", -1, "unknown item key '\xc3\xa9'", NULL},
        {"{\"id\":\"a\",\"k\xff\":\"x\"}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\" \"title\":\"x\"}", -1, "invalid JSON", NULL},
        {"{id:\"a\"}", -1, "invalid JSON", NULL},
        {"{'id':'a'}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"title\":nul}", -1, "invalid JSON", NULL},
        {"{\"id\":\"a\",\"title\":NULL}", -1, "invalid JSON", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_decode(cases[i].text, strlen(cases[i].text), cases[i].rc, cases[i].msg,
                     cases[i].title);
    /* a NUL inside; only len bytes are read */
    check_decode("{\"id\":\"a\0b\"}", 12, -1, "invalid JSON", NULL);
    check_decode("{\"id\":\"a\"}xyz", 10, 0, NULL, NULL);
    check_decode("{\"id\":\"a\"}", 9, -1, "invalid JSON", NULL);
}

static unsigned long dec_rand(unsigned long *st)
{
    *st = *st * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned long)(*st >> 33);
}

static unsigned long decode_ok, decode_bad_json, decode_bad_item;

/* A text item_from_json may refuse: it must refuse exactly what jansson
 * cannot read (with jansson's position), and what it accepts must survive
 * item_to_json and a second read unchanged. */
static void check_mutated(const char *buf, size_t len)
{
    struct item *it = NULL, *again = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    na_error err;
    char *json;

    na_error_clear(&err);
    if (item_from_json(buf, len, &it, &err) == 0) {
        decode_ok++;
        assert_non_null(root);
        assert_true(json_is_object(root));
        json = item_to_json(it);
        assert_non_null(json);
        assert_int_equal(item_from_json(json, strlen(json), &again, &err), 0);
        testutil_assert_same_item(it, again);
        free(json);
    } else {
        assert_null(it);
        if (root == NULL) {
            decode_bad_json++;
            assert_non_null(strstr(err.msg, "invalid JSON"));
            assert_int_equal(err.line, jerr.line);
            assert_int_equal(err.column, jerr.column);
        } else {
            decode_bad_item++;
            assert_null(strstr(err.msg, "invalid JSON"));
            assert_true(err.msg[0] != '\0');
        }
    }
    json_decref(root);
    item_free(&it);
    item_free(&again);
}

static void test_item_decode_random(void **state)
{
    static const char *const pieces[] = {
        "a", "Zq", " ", "\t", "\n", "\b", "\f", "\x01", "\x1f", "\x7f", "\"", "\\", "/",
        "\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xef\xbf\xbd",
        "\\u0000", "2025-02-12T15:30:00Z", "{", "}", "[", "]", ",", ":", "null",
    };
    static const char inserts[] = {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'n',
                                   'u', '0', '1', '-', '.', 'e', '\0', '\x1f', '\x80',
                                   '\xc3', '\xff', 'd', 'D', '8', 'a'};
    unsigned long st = 99;

    (void)state;
    decode_ok = decode_bad_json = decode_bad_item = 0;
    for (int round = 0; round < 4000; round++) {
        struct item *it = item_new(), *back = NULL;
        char **slots[] = {&it->id,      &it->title,      &it->summary,
                          &it->content, &it->link,       &it->feed,
                          &it->feed_title, &it->author};
        char *json, *json2;
        size_t len;
        na_error err;

        assert_non_null(it);
        for (size_t k = 0; k < sizeof(slots) / sizeof(slots[0]); k++) {
            size_t n = dec_rand(&st) % (k == 0 ? 6 : 12), used = 0;
            char buf[512];

            if (k > 0 && dec_rand(&st) % 4 == 0)
                continue; /* absent */
            buf[0] = '\0';
            for (size_t j = 0; j < n; j++) {
                const char *pc = pieces[dec_rand(&st) % (sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(pc);

                memcpy(buf + used, pc, pl + 1);
                used += pl;
            }
            assert_int_equal(item_set(slots[k], k == 0 && used == 0 ? "id" : buf), 0);
        }
        for (unsigned long c = dec_rand(&st) % 4; c > 0; c--)
            assert_int_equal(item_add_category(it, pieces[dec_rand(&st) % 20]), 0);
        if (dec_rand(&st) % 2)
            it->published = (int64_t)(dec_rand(&st) % 4000000000UL) - 1000000000;
        json = item_to_json(it);
        assert_non_null(json);
        len = strlen(json);
        /* the round trip: the same item, the same text */
        assert_int_equal(item_from_json(json, len, &back, &err), 0);
        testutil_assert_same_item(back, it);
        json2 = item_to_json(back);
        assert_non_null(json2);
        assert_string_equal(json2, json);
        free(json2);
        item_free(&back);
        for (int mut = 0; mut < 6; mut++) {
            char *m = malloc(len + 2);
            size_t at = dec_rand(&st) % len, mlen = len;

            assert_non_null(m);
            memcpy(m, json, len + 1);
            switch (dec_rand(&st) % 3) {
            case 0: /* delete a byte */
                memmove(m + at, m + at + 1, len - at);
                mlen--;
                break;
            case 1: /* replace one */
                m[at] = inserts[dec_rand(&st) % sizeof(inserts)];
                break;
            default: /* insert one */
                memmove(m + at + 1, m + at, len - at + 1);
                m[at] = inserts[dec_rand(&st) % sizeof(inserts)];
                mlen++;
                break;
            }
            check_mutated(m, mlen);
            free(m);
        }
        free(json);
        item_free(&it);
    }
    /* every kind of answer was given many times */
    assert_true(decode_ok > 1000);
    assert_true(decode_bad_json > 1000);
    assert_true(decode_bad_item > 100);
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
        cmocka_unit_test_setup_teardown(test_handoff_headers, setup, teardown),
        cmocka_unit_test(test_item_decode_fixed),
        cmocka_unit_test(test_item_decode_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

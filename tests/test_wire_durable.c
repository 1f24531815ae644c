/*
 * test_wire_durable.c - the frames of durable delivery (wire.h): hand-off
 * items and acks between DEALER and ROUTER, replay requests and replies,
 * heartbeats; and hostile messages (wrong part counts, thousands of parts,
 * wrong versions, truncated JSON, negative seqs, oversize parts, unknown
 * item encodings, hostile packed items), after each of which the same socket still delivers the next good message.
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

#include "item.h"
#include "item_pack.h"
#include "wire.h"

struct rd {
    void *ctx;
    void *router;
    void *dealer;
};

static int setup(void **state)
{
    static int n;
    struct rd *p = calloc(1, sizeof(*p));
    char ep[64];
    int timeout = 5000;

    snprintf(ep, sizeof(ep), "inproc://test-wire-durable-%d", n++);
    p->ctx = zmq_ctx_new();
    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    p->dealer = zmq_socket(p->ctx, ZMQ_DEALER);
    assert_int_equal(zmq_bind(p->router, ep), 0);
    assert_int_equal(zmq_connect(p->dealer, ep), 0);
    zmq_setsockopt(p->router, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(p->dealer, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct rd *p = *state;
    int linger = 0;

    zmq_setsockopt(p->router, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(p->dealer, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(p->router);
    zmq_close(p->dealer);
    zmq_ctx_term(p->ctx);
    free(p);
    return 0;
}

/* Send n raw parts from sock. */
static void send_parts(void *sock, size_t n, const char *const *parts)
{
    for (size_t i = 0; i < n; i++)
        assert_true(zmq_send(sock, parts[i], strlen(parts[i]), i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static struct item *make_item(const char *id)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, id), 0);
    assert_int_equal(item_set(&it->feed, "http://example.org/feed"), 0);
    assert_int_equal(item_set(&it->title, "A title"), 0);
    return it;
}

static void send_good_item(struct rd *p, const char *id, int64_t tag)
{
    struct item *it = make_item(id);
    char *json = item_to_json(it);

    assert_int_equal(wire_send_handoff(p->dealer, tag, json, strlen(json), 0), 0);
    free(json);
    item_free(&it);
}

static void expect_good_item(struct rd *p, const char *id, int64_t tag)
{
    struct wire_peer peer;
    struct item *it = NULL;
    int64_t got;
    na_error err;

    na_error_clear(&err);
    assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &got, &it, &err), 0);
    assert_int_equal(got, tag);
    assert_true(peer.len > 0);
    assert_string_equal(it->id, id);
    assert_string_equal(it->feed, "http://example.org/feed");
    item_free(&it);
}

static void test_handoff_round_trip(void **state)
{
    struct rd *p = *state;
    struct wire_peer peer;
    struct item *it = NULL;
    int64_t tag, tags[3] = {42, 43, 7}, *got = NULL;
    size_t n;
    na_error err;

    send_good_item(p, "item-1", 42);
    na_error_clear(&err);
    assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &it, &err), 0);
    assert_int_equal(tag, 42);
    assert_string_equal(it->id, "item-1");
    item_free(&it);
    assert_int_equal(wire_send_acks(p->router, &peer, tags, 3), 0);
    assert_int_equal(wire_recv_acks(p->dealer, 0, &got, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 42);
    assert_int_equal(got[2], 7);
    free(got);
    /* nothing waiting */
    assert_int_equal(wire_recv_handoff(p->router, ZMQ_DONTWAIT, &peer, &tag, &it, &err), -2);
    assert_int_equal(errno, EAGAIN);
}

static void test_handoff_hostile(void **state)
{
    struct rd *p = *state;
    static const char *const one[] = {"{\"v\":1,\"op\":\"item\",\"tag\":1}"};
    static const char *const three[] = {"{\"v\":1,\"op\":\"item\",\"tag\":2}", "{}", "x"};
    static const char *const v2[] = {"{\"v\":2,\"op\":\"item\",\"tag\":3}", "{\"id\":\"a\"}"};
    static const char *const trunc[] = {"{\"v\":1,\"op\":\"item\",\"ta", "{\"id\":\"a\"}"};
    static const char *const neg[] = {"{\"v\":1,\"op\":\"item\",\"tag\":-5}", "{\"id\":\"a\"}"};
    static const char *const badop[] = {"{\"v\":1,\"op\":\"ack\",\"tag\":5}", "{\"id\":\"a\"}"};
    static const char *const badbody[] = {"{\"v\":1,\"op\":\"item\",\"tag\":6}", "{\"id\":"};
    const char *const *cases[] = {one, three, v2, trunc, neg, badop, badbody};
    const size_t counts[] = {1, 3, 2, 2, 2, 2, 2};
    const int64_t want_tag[] = {-1, -1, -1, -1, -1, -1, 6};
    struct wire_peer peer;
    struct item *it = NULL;
    int64_t tag;
    na_error err;
    size_t i;
    char *big;

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        send_parts(p->dealer, counts[i], cases[i]);
        na_error_clear(&err);
        assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &it, &err), -1);
        assert_null(it);
        assert_int_equal(tag, want_tag[i]);
        assert_true(err.msg[0] != '\0');
        send_good_item(p, "after", (int64_t)i);
        expect_good_item(p, "after", (int64_t)i);
    }
    /* thousands of parts */
    for (i = 0; i < 5000; i++)
        assert_true(zmq_send(p->dealer, "x", 1, i + 1 < 5000 ? ZMQ_SNDMORE : 0) >= 0);
    assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &it, &err), -1);
    assert_non_null(strstr(err.msg, "parts"));
    send_good_item(p, "after-parts", 99);
    expect_good_item(p, "after-parts", 99);
    /* an oversize item */
    big = malloc(WIRE_MAX_ITEM + 2);
    assert_non_null(big);
    memset(big, ' ', WIRE_MAX_ITEM + 1);
    big[WIRE_MAX_ITEM + 1] = '\0';
    assert_true(zmq_send(p->dealer, "{\"v\":1,\"op\":\"item\",\"tag\":8}", 27, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(p->dealer, big, WIRE_MAX_ITEM + 1, 0) >= 0);
    free(big);
    assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &it, &err), -1);
    assert_non_null(strstr(err.msg, "exceeds"));
    assert_int_equal(tag, 8);
    send_good_item(p, "after-big", 100);
    expect_good_item(p, "after-big", 100);
}

/* The hand-off header's two readings (wire_handoff_header): recognised as
 * jansson's own text, or parsed by jansson.  Held to each other - same
 * return, op, tag and message - on the canonical headers of both ops with
 * tags from 0 to INT64_MAX, on near misses (leading zeros, signs, spaces,
 * other member orders, duplicate members, tags past INT64_MAX, trailing
 * bytes, NULs, an oversize frame) and on every one-byte change, deletion
 * and insertion of every byte value in two canonical headers. */
static void check_header(const char *h, size_t n)
{
    na_error e1, e2;
    int64_t t1, t2;
    int enc1, enc2, rc1, rc2;

    na_error_clear(&e1);
    na_error_clear(&e2);
    rc1 = wire_handoff_header(h, n, 0, &enc1, &t1, &e1);
    rc2 = wire_handoff_header(h, n, 1, &enc2, &t2, &e2);
    if (rc1 != rc2 || enc1 != enc2 || t1 != t2 || strcmp(e1.msg, e2.msg) != 0)
        fail_msg("header %.*s: fast %d/%d/%lld '%s', jansson %d/%d/%lld '%s'", (int)n,
                 h != NULL ? h : "", rc1,
                 enc1, (long long)t1, e1.msg, rc2, enc2, (long long)t2, e2.msg);
}

static void test_handoff_header_paths(void **state)
{
    static const char *const near[] = {
        "", "}", "{", "{}", "{\"v\":1,\"op\":\"item\",\"tag\":}",
        "{\"v\":1,\"op\":\"item\",\"tag\":-0}", "{\"v\":1,\"op\":\"item\",\"tag\":-1}",
        "{\"v\":1,\"op\":\"item\",\"tag\":00}", "{\"v\":1,\"op\":\"item\",\"tag\":007}",
        "{\"v\":1,\"op\":\"item\",\"tag\":+1}", "{\"v\":1,\"op\":\"item\",\"tag\":1e3}",
        "{\"v\":1,\"op\":\"item\",\"tag\":1.0}", "{\"v\":1,\"op\":\"item\",\"tag\": 1}",
        "{\"v\":1,\"op\":\"item\",\"tag\":1 }", "{\"v\": 1,\"op\":\"item\",\"tag\":1}",
        "{\"op\":\"item\",\"v\":1,\"tag\":1}", "{\"v\":1,\"tag\":1,\"op\":\"item\"}",
        "{\"v\":1,\"op\":\"item\",\"tag\":1,\"tag\":2}",
        "{\"v\":1,\"op\":\"item\",\"op\":\"item\",\"tag\":1}",
        "{\"v\":1,\"op\":\"item\",\"tag\":1,\"x\":0}", "{\"v\":2,\"op\":\"item\",\"tag\":1}",
        "{\"v\":1.0,\"op\":\"item\",\"tag\":1}", "{\"v\":1,\"op\":\"Item\",\"tag\":1}",
        "{\"v\":1,\"op\":\"item\",\"tag\":\"1\"}", "{\"v\":1,\"op\":\"item\",\"tag\":1}}",
        "{\"v\":1,\"op\":\"item\",\"tag\":1} ", " {\"v\":1,\"op\":\"item\",\"tag\":1}",
        "{\"v\":1,\"op\":\"item\",\"tag\":9223372036854775807}",
        "{\"v\":1,\"op\":\"item\",\"tag\":9223372036854775808}",
        "{\"v\":1,\"op\":\"item\",\"tag\":18446744073709551616}",
        "{\"v\":1,\"op\":\"item\",\"tag\":99999999999999999999999}",
        "{\"v\":1,\"op\":\"packed_item\",\"tag\":0}",
        "{\"v\":1,\"op\":\"packed_\\u0069tem\",\"tag\":4}",
        "{\"v\":1,\"op\":\"packed_item\",\"tag\":1}\n",
        "[\"v\",1,\"op\",\"item\",\"tag\",1]",
    };
    static const char *const ops[] = {"item", "packed_item", "ack", ""};
    static const int64_t tags[] = {0, 1, 9, 10, 99, 100, 12345, 999999999, 1000000000,
                                   4294967296LL, 999999999999999999LL, 1000000000000000000LL,
                                   INT64_MAX - 1, INT64_MAX};
    const char *bases[] = {"{\"v\":1,\"op\":\"packed_item\",\"tag\":12345}",
                           "{\"v\":1,\"op\":\"item\",\"tag\":7}"};
    char buf[WIRE_MAX_HEADER + 64];
    na_error err;
    int64_t tag;
    int enc;

    (void)state;
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++)
        check_header(near[i], strlen(near[i]));
    check_header(NULL, 0);
    /* a NUL inside, and an oversize frame that starts like a header */
    check_header("{\"v\":1,\"op\":\"item\",\"tag\":1\0}", 28);
    memset(buf, ' ', sizeof(buf));
    memcpy(buf, bases[1], strlen(bases[1]));
    check_header(buf, WIRE_MAX_HEADER + 1);
    check_header(buf, WIRE_MAX_HEADER);
    /* what senders write: recognised, for every op and tag */
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
        for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
            int n = snprintf(buf, sizeof(buf), "{\"v\":1,\"op\":\"%s\",\"tag\":%lld}", ops[o],
                             (long long)tags[t]);

            check_header(buf, (size_t)n);
            na_error_clear(&err);
            assert_int_equal(wire_handoff_header(buf, (size_t)n, 0, &enc, &tag, &err),
                             o < 2 ? 0 : -1);
            assert_true(tag == (o < 2 ? tags[t] : -1));
            assert_int_equal(enc, o == 1 ? WIRE_ENC_PACKED : WIRE_ENC_JSON);
        }
    /* every one-byte change, deletion and insertion */
    for (size_t b = 0; b < 2; b++) {
        size_t n = strlen(bases[b]);

        for (size_t at = 0; at <= n; at++)
            for (int c = 0; c < 256; c++) {
                if (at < n) {
                    memcpy(buf, bases[b], n);
                    buf[at] = (char)c;
                    check_header(buf, n);
                }
                memcpy(buf, bases[b], at);
                buf[at] = (char)c;
                memcpy(buf + at + 1, bases[b] + at, n - at);
                check_header(buf, n + 1);
            }
        for (size_t at = 0; at < n; at++) {
            memcpy(buf, bases[b], at);
            memcpy(buf + at, bases[b] + at + 1, n - at - 1);
            check_header(buf, n - 1);
        }
    }
}

/* Packed items (op "packed_item"): sent and received, decoded on request
 * (wire_recv_handoff_raw + wire_decode_item), beside JSON items (op
 * "item") on the same socket; the header on the wire is exactly the
 * documented one; other keys (here "enc") are ignored, as in every header. */
static void test_handoff_packed(void **state)
{
    struct rd *p = *state;
    struct item *it = make_item("packed-1"), *got = NULL;
    struct wire_peer peer;
    unsigned char *rec;
    char *data = NULL, *json;
    size_t len, rlen;
    int64_t tag;
    int enc = -1;
    na_error err;

    assert_int_equal(item_add_category(it, "c\xc3\xa9"), 0);
    it->published = 1700000000;
    assert_non_null(rec = item_pack_encode(it, &len));
    assert_int_equal(wire_send_handoff_enc(p->dealer, 11, WIRE_ENC_PACKED, rec, len, 0), 0);
    na_error_clear(&err);
    assert_int_equal(
        wire_recv_handoff_raw(p->router, 0, &peer, &tag, &enc, &data, &rlen, &err), 0);
    assert_int_equal(tag, 11);
    assert_int_equal(enc, WIRE_ENC_PACKED);
    assert_int_equal(rlen, len);
    assert_memory_equal(data, rec, len);
    assert_int_equal(wire_decode_item(enc, data, rlen, &got, &err), 0);
    assert_string_equal(got->id, "packed-1");
    assert_string_equal(got->categories[0], "c\xc3\xa9");
    assert_true(got->published == 1700000000);
    item_free(&got);
    /* the same bytes decoded as JSON are a bad item, and JSON as packed */
    assert_int_equal(wire_decode_item(WIRE_ENC_JSON, data, rlen, &got, &err), -1);
    assert_null(got);
    free(data);
    json = item_to_json(it);
    assert_int_equal(wire_decode_item(WIRE_ENC_PACKED, json, strlen(json), &got, &err), -1);
    assert_non_null(strstr(err.msg, "item message: packed item: no \"NAI1\" magic"));
    /* wire_recv_handoff decodes either */
    assert_int_equal(wire_send_handoff_enc(p->dealer, 12, WIRE_ENC_JSON, json, strlen(json), 0),
                     0);
    assert_int_equal(wire_send_handoff_enc(p->dealer, 13, WIRE_ENC_PACKED, rec, len, 0), 0);
    for (int64_t want = 12; want <= 13; want++) {
        assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &got, &err), 0);
        assert_int_equal(tag, want);
        assert_string_equal(got->id, "packed-1");
        assert_true(got->published == 1700000000);
        item_free(&got);
    }
    {
        static const char *const with_enc[] = {
            "{\"v\":1,\"op\":\"item\",\"tag\":14,\"enc\":\"packed\"}",
            "{\"id\":\"j\",\"feed\":\"http://example.org/feed\"}"};
        char hdr[128];
        int n;

        send_parts(p->dealer, 2, with_enc);
        expect_good_item(p, "j", 14);
        /* the frames as they go: routing id, header, the record */
        assert_int_equal(wire_send_handoff_enc(p->dealer, 17, WIRE_ENC_PACKED, rec, len, 0), 0);
        assert_true(zmq_recv(p->router, hdr, sizeof(hdr), 0) > 0); /* routing id */
        n = zmq_recv(p->router, hdr, sizeof(hdr) - 1, 0);
        assert_true(n > 0);
        hdr[n] = '\0';
        assert_string_equal(hdr, "{\"v\":1,\"op\":\"packed_item\",\"tag\":17}");
        assert_int_equal(zmq_recv(p->router, data = malloc(len + 1), len + 1, 0), (int)len);
        assert_memory_equal(data, rec, len);
        free(data);
        assert_int_equal(wire_send_handoff_enc(p->dealer, 18, WIRE_ENC_JSON, json, strlen(json),
                                               0), 0);
        assert_true(zmq_recv(p->router, hdr, sizeof(hdr), 0) > 0);
        n = zmq_recv(p->router, hdr, sizeof(hdr) - 1, 0);
        assert_true(n > 0);
        hdr[n] = '\0';
        assert_string_equal(hdr, "{\"v\":1,\"op\":\"item\",\"tag\":18}");
        assert_true(zmq_recv(p->router, hdr, sizeof(hdr), 0) > 0);
    }
    /* an unknown encoding is refused by the sender too */
    assert_int_equal(wire_send_handoff_enc(p->dealer, 15, 7, rec, len, 0), -1);
    assert_int_equal(errno, EINVAL);
    send_good_item(p, "after", 16);
    expect_good_item(p, "after", 16);
    free(json);
    free(rec);
    item_free(&it);
}

/* Hostile packed messages: truncated records, lengths past the end, bad
 * UTF-8, wrong magic, a record sent as JSON.  Each is a bad message whose
 * tag is known (the matcher acknowledges and drops it); an unknown op is
 * refused without reading the tag (never acknowledged: what an older
 * matcher does with "packed_item", so the fetcher keeps the item).  The
 * socket delivers the next good item after each. */
static void test_handoff_packed_hostile(void **state)
{
    struct rd *p = *state;
    struct item *it = make_item("hostile"), *got = NULL;
    struct wire_peer peer;
    unsigned char *rec, *bad;
    size_t len;
    int64_t tag;
    na_error err;
    struct {
        const char *hdr;
        size_t cut;     /* bytes of the record sent; 0: all */
        int patch;      /* byte to overwrite, -1: none */
        unsigned char with;
        const char *msg;
        int64_t want_tag;
    } cases[] = {
        {"{\"v\":1,\"op\":\"zipped_item\",\"tag\":21}", 0, -1, 0,
         "needs \"op\": \"item\" or \"packed_item\"", -1},
        {"{\"v\":1,\"op\":\"item\",\"tag\":22}", 0, -1, 0, "item message: 1:3: invalid JSON", 22},
        {"{\"v\":1,\"op\":\"packed_item\",\"tag\":23}", 30, -1, 0, "packed item: field", 23},
        {"{\"v\":1,\"op\":\"packed_item\",\"tag\":24}", 0, 7, 0x7f, "runs past the end", 24},
        {"{\"v\":1,\"op\":\"packed_item\",\"tag\":25}", 0, 8, 0xff,
         "field `id` at byte 4: invalid UTF-8 at byte 8", 25},
        {"{\"v\":1,\"op\":\"packed_item\",\"tag\":26}", 0, 0, '{', "magic at byte 0", 26},
        {"{\"v\":1,\"op\":\"packed_item\",\"tag\":27}", 0, 9, 0,
         "field `id` at byte 4: NUL byte at byte 9", 27},
    };

    assert_non_null(rec = item_pack_encode(it, &len));
    assert_non_null(bad = malloc(len));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].cut > 0 ? cases[i].cut : len;

        memcpy(bad, rec, len);
        if (cases[i].patch >= 0)
            bad[cases[i].patch] = cases[i].with;
        assert_true(zmq_send(p->dealer, cases[i].hdr, strlen(cases[i].hdr), ZMQ_SNDMORE) >= 0);
        assert_true(zmq_send(p->dealer, bad, n, 0) >= 0);
        na_error_clear(&err);
        assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &got, &err), -1);
        assert_null(got);
        assert_int_equal(tag, cases[i].want_tag);
        assert_true(peer.len > 0);
        if (strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].msg);
        send_good_item(p, "after", 100 + (int64_t)i);
        expect_good_item(p, "after", 100 + (int64_t)i);
    }
    free(bad);
    free(rec);
    item_free(&it);
}

static void test_acks_hostile(void **state)
{
    struct rd *p = *state;
    static const char *const bad[] = {
        "{\"v\":1,\"op\":\"ack\",\"tags\":[1,\"2\"]}", "{\"v\":1,\"op\":\"ack\",\"tags\":[-1]}",
        "{\"v\":1,\"op\":\"ack\"}", "{\"v\":9,\"op\":\"ack\",\"tags\":[]}", "{\"v\":1,\"op\":\"ack\",",
    };
    struct wire_peer peer;
    struct item *it = NULL;
    int64_t tag, *tags = NULL, good = 5;
    size_t i, n;
    na_error err;

    /* learn the dealer's routing id */
    send_good_item(p, "x", 1);
    assert_int_equal(wire_recv_handoff(p->router, 0, &peer, &tag, &it, &err), 0);
    item_free(&it);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(zmq_send(p->router, peer.id, peer.len, ZMQ_SNDMORE) >= 0);
        assert_true(zmq_send(p->router, bad[i], strlen(bad[i]), 0) >= 0);
        na_error_clear(&err);
        assert_int_equal(wire_recv_acks(p->dealer, 0, &tags, &n, &err), -1);
        assert_null(tags);
        assert_int_equal(wire_send_acks(p->router, &peer, &good, 1), 0);
        assert_int_equal(wire_recv_acks(p->dealer, 0, &tags, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(tags[0], 5);
        free(tags);
        tags = NULL;
    }
}

static void test_replay_requests(void **state)
{
    struct rd *p = *state;
    static const char *const bad[] = {
        "{\"v\":1,\"op\":\"replay\",\"id\":1,\"after\":-1}",
        "{\"v\":1,\"op\":\"replay\",\"after\":3}",
        "{\"v\":2,\"op\":\"replay\",\"id\":1,\"after\":3}",
        "{\"v\":1,\"op\":\"replay\",\"id\":1,\"after\":3,\"topics\":\"a\"}",
        "{\"v\":1,\"op\":\"replay\",\"id\":1,\"after\":3,\"topics\":[1]}",
        "{\"v\":1,\"op\":\"rewind\",\"id\":1,\"after\":3}",
        "{\"v\":1,\"op\":\"replay\",\"id\":1,\"aft",
        "[1,2,3]",
    };
    struct wire_replay_req req;
    struct wire_peer peer;
    na_error err;
    size_t i;
    char many[4096];
    size_t off;

    send_parts(p->dealer, 1,
               (const char *const[]){"{\"v\":1,\"op\":\"replay\",\"id\":7,\"after\":12,"
                                     "\"topics\":[\"tech\",\"sec\"]}"});
    assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), 0);
    assert_int_equal(req.id, 7);
    assert_int_equal(req.after, 12);
    assert_int_equal(req.ntopics, 2);
    assert_string_equal(req.topics[1], "sec");
    assert_false(req.head_only);
    wire_replay_req_clear(&req);
    send_parts(p->dealer, 1, (const char *const[]){"{\"v\":1,\"op\":\"head\",\"id\":8}"});
    assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), 0);
    assert_true(req.head_only);
    assert_int_equal(req.id, 8);
    wire_replay_req_clear(&req);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_parts(p->dealer, 1, &bad[i]);
        na_error_clear(&err);
        assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), -1);
        assert_true(peer.len > 0); /* the sender can be told */
        assert_true(err.msg[0] != '\0');
        assert_null(req.topics);
        wire_replay_req_clear(&req);
    }
    /* too many topics */
    off = (size_t)snprintf(many, sizeof(many), "{\"v\":1,\"op\":\"replay\",\"id\":1,\"after\":0,"
                                               "\"topics\":[");
    for (i = 0; i < WIRE_MAX_REPLAY_TOPICS + 1; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"t%zu\"", i ? "," : "", i);
    snprintf(many + off, sizeof(many) - off, "]}");
    send_parts(p->dealer, 1, (const char *const[]){many});
    assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), -1);
    assert_int_equal(req.id, 1);
    wire_replay_req_clear(&req);
    /* two parts */
    send_parts(p->dealer, 2, (const char *const[]){"{\"v\":1,\"op\":\"head\",\"id\":8}", "x"});
    assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), -1);
    wire_replay_req_clear(&req);
}

/* Receive one reply on the dealer: the header as JSON, and the number of
 * parts. */
static json_t *recv_reply(struct rd *p, size_t *nparts, char bodies[][64])
{
    json_t *hdr = NULL;
    int more = 1;
    size_t ms = sizeof(more);

    *nparts = 0;
    while (more) {
        char buf[8192];
        int n = zmq_recv(p->dealer, buf, sizeof(buf) - 1, 0);

        assert_true(n >= 0);
        buf[n] = '\0';
        if (*nparts == 0)
            hdr = json_loads(buf, 0, NULL);
        else if (bodies != NULL && *nparts <= 8)
            snprintf(bodies[*nparts - 1], 64, "%.63s", buf);
        (*nparts)++;
        zmq_getsockopt(p->dealer, ZMQ_RCVMORE, &more, &ms);
    }
    assert_non_null(hdr);
    return hdr;
}

static void test_replay_replies(void **state)
{
    struct rd *p = *state;
    const char *topics[] = {"a", "b"}, *bodies[] = {"{\"seq\":1}", "{\"seq\":2}"};
    size_t lens[] = {9, 9}, n;
    char got[8][64];
    struct wire_replay_req req;
    struct wire_peer peer;
    na_error err;
    json_t *h;

    send_parts(p->dealer, 1, (const char *const[]){"{\"v\":1,\"op\":\"head\",\"id\":3}"});
    assert_int_equal(wire_recv_replay_req(p->router, 0, &peer, &req, &err), 0);
    wire_replay_req_clear(&req);
    assert_int_equal(wire_send_replay_batch(p->router, &peer, 3, topics, bodies, lens, 2), 0);
    h = recv_reply(p, &n, got);
    assert_int_equal(n, 5);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "batch");
    assert_int_equal(json_integer_value(json_object_get(h, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(h, "id")), 3);
    assert_string_equal(got[0], "a");
    assert_string_equal(got[3], "{\"seq\":2}");
    json_decref(h);
    assert_int_equal(wire_send_replay_end(p->router, &peer, 3, 10, 12, 2), 0);
    h = recv_reply(p, &n, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "end");
    assert_int_equal(json_integer_value(json_object_get(h, "last")), 10);
    assert_int_equal(json_integer_value(json_object_get(h, "head")), 12);
    json_decref(h);
    assert_int_equal(wire_send_replay_error(p->router, &peer, 3, "truncated",
                                            "truncated, oldest is 2", 2, 12), 0);
    h = recv_reply(p, &n, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "code")), "truncated");
    assert_string_equal(json_string_value(json_object_get(h, "message")),
                        "truncated, oldest is 2");
    json_decref(h);
    /* an unknown peer: dropped without blocking */
    peer.id[0] ^= 0xff;
    assert_int_equal(wire_send_replay_end(p->router, &peer, 3, 10, 12, 2), 0);
}

static void test_heartbeat(void **state)
{
    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB), *sub = zmq_socket(ctx, ZMQ_SUB);
    char topic[64], body[256];
    int timeout = 5000, n, linger = 0;
    json_t *h;

    (void)state;
    assert_int_equal(zmq_bind(pub, "inproc://hb"), 0);
    assert_int_equal(zmq_connect(sub, "inproc://hb"), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, WIRE_HEARTBEAT_TOPIC, strlen(WIRE_HEARTBEAT_TOPIC));
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(wire_send_heartbeat(pub, 41, 3, 1000), 0);
    n = zmq_recv(sub, topic, sizeof(topic), 0);
    assert_int_equal(n, 10);
    assert_memory_equal(topic, "\x01heartbeat", 10);
    n = zmq_recv(sub, body, sizeof(body) - 1, 0);
    assert_true(n > 0);
    body[n] = '\0';
    h = json_loads(body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(h, "head")), 41);
    assert_int_equal(json_integer_value(json_object_get(h, "oldest")), 3);
    assert_int_equal(json_integer_value(json_object_get(h, "v")), 1);
    json_decref(h);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handoff_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handoff_hostile, setup, teardown),
        cmocka_unit_test(test_handoff_header_paths),
        cmocka_unit_test_setup_teardown(test_handoff_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handoff_packed_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acks_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_replies, setup, teardown),
        cmocka_unit_test(test_heartbeat),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

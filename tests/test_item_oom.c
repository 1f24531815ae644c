/*
 * test_item_oom.c - running out of memory while an item is decoded is not
 * a bad item.
 *
 * The matcher acknowledges and drops a bad item message, and leaves an
 * item it could not decode for want of memory unacknowledged, to come
 * again; so the decoders must tell the two apart.  As tests/test_rules_oom.c
 * does, the test is linked with oomutil.c and its wrappers (oomutil.h) so
 * that every allocation our code makes can be failed in turn; jansson's allocations
 * reach the same wrappers because item.c routes jansson's allocator
 * through malloc (item_json_alloc_failures).  For item_from_json,
 * item_pack_decode, wire_decode_item, wire_handoff_header and
 * wire_recv_handoff_raw, each failure must give the out-of-memory code
 * (ITEM_ENOMEM / WIRE_ENOMEM, never -1, never a success with a damaged
 * item), and bad input must still give -1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "item.h"
#include "item_pack.h"
#include "oomutil.h"
#include "testutil.h"
#include "wire.h"

/* An item with every field, categories and a date; texts longer than
 * jansson's first string buffer (16 bytes), so that its parser grows them. */
static struct item *sample_item(void)
{
    struct item *it = item_new();

    assert_non_null(it);
    assert_int_equal(item_set(&it->id, "urn:story:0001-with-a-long-identifier"), 0);
    assert_int_equal(item_set(&it->title, "NATO membership talks resume in Brussels"), 0);
    assert_int_equal(item_set(&it->summary, "Ministers met on Tuesday; caf\xc3\xa9 \"quotes\" "
                                            "and a backslash \\ and a tab\tin the text."),
                     0);
    assert_int_equal(item_set(&it->content, "A longer body of text about the talks, which "
                                            "went on late into the night."),
                     0);
    assert_int_equal(item_set(&it->link, "https://news.example/world/nato-talks"), 0);
    assert_int_equal(item_set(&it->feed, "https://news.example/feeds/world.xml"), 0);
    assert_int_equal(item_set(&it->feed_title, "Example News: World"), 0);
    assert_int_equal(item_set(&it->author, "A. Correspondent"), 0);
    assert_int_equal(item_add_category(it, "world politics and diplomacy"), 0);
    assert_int_equal(item_add_category(it, "europe"), 0);
    it->published = 1700000000;
    return it;
}

/* Run decode(buf, len) with the k-th allocation failing, for k = 0, 1, ...
 * until it runs without a failure.  Each run that hit a failure must return
 * `nomem_rc` with *out NULL and "out of memory" in the message; the run
 * without a failure must return 0 and the same item as `want`.  Returns the
 * number of allocations failed in turn. */
typedef int (*decode_fn)(const char *buf, size_t len, struct item **out, na_error *err);

static long fail_each_decode(decode_fn decode, const char *buf, size_t len,
                             const struct item *want, int nomem_rc)
{
    long k;

    for (k = 0; k < 100000; k++) {
        struct item *got = (struct item *)&got; /* not NULL: decode must clear it */
        long before = oomutil_failures();
        na_error err;
        int rc;

        na_error_clear(&err);
        oomutil_fail_at(k);
        rc = decode(buf, len, &got, &err);
        oomutil_off();
        if (oomutil_failures() == before) {
            assert_int_equal(rc, 0);
            testutil_assert_same_item(got, want);
            item_free(&got);
            break;
        }
        /* an allocation failed: never a success (jansson can lose a byte of
         * a string and still succeed), never "bad input" */
        if (rc != nomem_rc)
            fail_msg("allocation %ld failed: got %d (%s), expected %d", k, rc, err.msg,
                     nomem_rc);
        assert_null(got);
        assert_non_null(strstr(err.msg, "out of memory"));
    }
    assert_true(k > 0);
    return k;
}

static int decode_json(const char *buf, size_t len, struct item **out, na_error *err)
{
    return item_from_json(buf, len, out, err);
}

static int decode_packed(const char *buf, size_t len, struct item **out, na_error *err)
{
    return item_pack_decode(buf, len, out, err);
}

static int decode_wire_json(const char *buf, size_t len, struct item **out, na_error *err)
{
    return wire_decode_item(WIRE_ENC_JSON, buf, len, out, err);
}

static int decode_wire_packed(const char *buf, size_t len, struct item **out, na_error *err)
{
    return wire_decode_item(WIRE_ENC_PACKED, buf, len, out, err);
}

static void test_from_json_oom(void **state)
{
    struct item *it = sample_item();
    char *json = item_to_json(it);
    long n;

    (void)state;
    assert_non_null(json);
    n = fail_each_decode(decode_json, json, strlen(json), it, ITEM_ENOMEM);
    /* ours: the item, 8 fields, 2 categories (strdup + realloc each); the
     * rest are jansson's */
    assert_true(n > 1 + 8 + 4);
    print_message("item_from_json: %ld allocations failed in turn\n", n);
    free(json);
    item_free(&it);
}

/* Integer dates, a key given as null, "v": the other branches. */
static void test_from_json_oom_variants(void **state)
{
    static const char json[] =
        "{\"v\":1,\"id\":\"a-rather-long-identifier-here\",\"title\":null,"
        "\"published\":1700000000,\"categories\":[]}";
    struct item *want = item_new();

    (void)state;
    assert_non_null(want);
    assert_int_equal(item_set(&want->id, "a-rather-long-identifier-here"), 0);
    want->published = 1700000000;
    fail_each_decode(decode_json, json, sizeof(json) - 1, want, ITEM_ENOMEM);
    item_free(&want);
}

static void test_pack_decode_oom(void **state)
{
    struct item *it = sample_item();
    size_t len;
    unsigned char *rec = item_pack_encode(it, &len);
    long n;

    (void)state;
    assert_non_null(rec);
    n = fail_each_decode(decode_packed, (const char *)rec, len, it, ITEM_ENOMEM);
    /* the item, 8 strings, the category array, 2 categories */
    assert_int_equal(n, 1 + 8 + 1 + 2);
    free(rec);
    item_free(&it);
}

static void test_wire_decode_oom(void **state)
{
    struct item *it = sample_item();
    char *json = item_to_json(it);
    size_t len;
    unsigned char *rec = item_pack_encode(it, &len);

    (void)state;
    assert_non_null(json);
    assert_non_null(rec);
    fail_each_decode(decode_wire_json, json, strlen(json), it, WIRE_ENOMEM);
    fail_each_decode(decode_wire_packed, (const char *)rec, len, it, WIRE_ENOMEM);
    free(rec);
    free(json);
    item_free(&it);
}

/* Bad input is still -1, with or without memory, and never a success. */
static void test_bad_input_still_bad(void **state)
{
    static const char *const bad_json[] = {
        "{\"id\":\"x\",\"title\":3}",
        "{\"title\":\"no id here at all, a long title\"}",
        "{\"id\":\"x\",\"published\":\"not a date at all\"}",
        "{\"id\":\"x\",\"categories\":[\"ok\",7]}",
        "{\"id\":\"x\",\"unknown\":1}",
        "{\"id\":\"x\",",
        "[1,2,3]",
        "{\"id\":\"x\",\"id\":\"y\"}",
    };
    struct item *it = sample_item(), *out;
    size_t len;
    unsigned char *rec = item_pack_encode(it, &len);
    na_error err;

    (void)state;
    assert_non_null(rec);
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        const char *s = bad_json[i];

        assert_int_equal(item_from_json(s, strlen(s), &out, &err), -1);
        assert_null(out);
        assert_null(strstr(err.msg, "out of memory"));
        assert_int_equal(wire_decode_item(WIRE_ENC_JSON, s, strlen(s), &out, &err), -1);
        /* with allocations failing: out of memory or bad, nothing else */
        for (long k = 0; k < 200; k++) {
            int rc;

            oomutil_fail_at(k);
            rc = item_from_json(s, strlen(s), &out, &err);
            oomutil_off();
            assert_true(rc == -1 || rc == ITEM_ENOMEM);
            assert_null(out);
        }
    }
    /* packed: cut short, a trailing byte, the wrong magic */
    assert_int_equal(item_pack_decode(rec, len - 1, &out, &err), -1);
    assert_null(out);
    {
        unsigned char *longer = malloc(len + 1);

        assert_non_null(longer);
        memcpy(longer, rec, len);
        longer[len] = 0;
        assert_int_equal(item_pack_decode(longer, len + 1, &out, &err), -1);
        assert_int_equal(wire_decode_item(WIRE_ENC_PACKED, (const char *)longer, len + 1, &out,
                                          &err),
                         -1);
        free(longer);
    }
    rec[0] = 'X';
    assert_int_equal(item_pack_decode(rec, len, &out, &err), -1);
    assert_null(strstr(err.msg, "out of memory"));
    free(rec);
    item_free(&it);
}

/* A header in a form senders do not write goes to jansson: out of memory
 * there is WIRE_ENOMEM, never a wrong tag, never "bad". */
static void test_handoff_header_oom(void **state)
{
    static const char hdr[] = "{ \"tag\": 123456789012345678, \"op\": \"packed_item\", "
                              "\"v\": 1, \"note\": \"a string longer than sixteen bytes\" }";
    long k;

    (void)state;
    for (k = 0; k < 1000; k++) {
        long before = oomutil_failures();
        int64_t tag;
        int enc, rc;
        na_error err;

        oomutil_fail_at(k);
        rc = wire_handoff_header(hdr, sizeof(hdr) - 1, 1, &enc, &tag, &err);
        oomutil_off();
        if (oomutil_failures() == before) {
            assert_int_equal(rc, 0);
            assert_int_equal(enc, WIRE_ENC_PACKED);
            assert_true(tag == INT64_C(123456789012345678));
            break;
        }
        assert_int_equal(rc, WIRE_ENOMEM);
        assert_true(tag == -1);
    }
    assert_true(k > 0);
}

/* wire_recv_handoff_raw: the copy of the payload failing is WIRE_ENOMEM,
 * with the tag known (the caller must still not acknowledge it). */
static void test_recv_handoff_oom(void **state)
{
    void *ctx = zmq_ctx_new(), *router, *dealer;
    char payload[3000];
    long k, nomem = 0;

    (void)state;
    assert_non_null(ctx);
    router = zmq_socket(ctx, ZMQ_ROUTER);
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(zmq_bind(router, "inproc://oom-handoff"), 0);
    assert_int_equal(zmq_connect(dealer, "inproc://oom-handoff"), 0);
    memset(payload, '{', sizeof(payload));
    /* the recogniser of the usual header form allocates once, at its first
     * use: done here, so that the failures below are the receive's */
    {
        int64_t tag;
        int enc;
        na_error err;
        static const char h[] = "{\"v\":1,\"op\":\"item\",\"tag\":1}";

        assert_int_equal(wire_handoff_header(h, sizeof(h) - 1, 0, &enc, &tag, &err), 0);
    }
    for (k = 0; k < 100; k++) {
        struct wire_peer peer;
        long before = oomutil_failures();
        int64_t tag;
        int enc, rc;
        char *data = NULL;
        size_t len;
        na_error err;

        assert_int_equal(wire_send_handoff_enc(dealer, 40 + k, WIRE_ENC_JSON, payload,
                                               sizeof(payload), 0),
                         0);
        oomutil_fail_at(k);
        rc = wire_recv_handoff_raw(router, 0, &peer, &tag, &enc, &data, &len, &err);
        oomutil_off();
        /* a failure the receive got by without (the header recogniser's
         * scratch: the header is then parsed) must leave a whole result */
        if (oomutil_failures() == before || rc == 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(len, sizeof(payload));
            assert_memory_equal(data, payload, len);
            assert_int_equal(tag, 40 + k);
            free(data);
            if (oomutil_failures() == before)
                break;
            continue;
        }
        assert_int_equal(rc, WIRE_ENOMEM);
        assert_null(data);
        assert_int_equal(tag, 40 + k);
        assert_non_null(strstr(err.msg, "out of memory"));
        nomem++;
    }
    assert_true(nomem > 0);
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_json_oom),
        cmocka_unit_test(test_from_json_oom_variants),
        cmocka_unit_test(test_pack_decode_oom),
        cmocka_unit_test(test_wire_decode_oom),
        cmocka_unit_test(test_bad_input_still_bad),
        cmocka_unit_test(test_handoff_header_oom),
        cmocka_unit_test(test_recv_handoff_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

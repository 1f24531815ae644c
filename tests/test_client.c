/*
 * test_client.c - the client library (naclient.h) against a fake matcher
 * played by the test in the same thread: the start replay with its end
 * marker, live alerts taken in order, duplicates dropped, a seq jump filled
 * by a replay, a heartbeat ahead of the position starting a replay, a
 * "truncated" answer reported once, the cursor file kept and refused when
 * it is not a cursor, and bad options refused.
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
#include <jansson.h>
#include <zmq.h>

#include "fake_endpoints.h"
#include "naclient.h"
#include "testutil.h"
#include "wire.h"

static char dir[] = "/tmp/test-client-XXXXXX";
static int nfix;

/* Each test's own cursor file names use nfix. */
static int setup(void **state)
{
    nfix++;
    return fake_endpoints_setup(state);
}

static char *body_of(int64_t seq, const char *topic)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "{\"v\":1,\"seq\":%lld,\"rule\":{\"id\":\"%s\"}}",
             (long long)seq, topic);
    return buf;
}

static void publish(struct fake_endpoints *f, int64_t seq, const char *topic)
{
    const char *b = body_of(seq, topic);

    assert_int_equal(wire_send_alert(f->pub, topic, b, strlen(b), 0), 0);
}

/* Wait for a replay request from the client; returns its JSON. */
static json_t *take_request(struct fake_endpoints *f, struct naclient *c)
{
    for (int i = 0; i < 100; i++) {
        struct wire_replay_req req;
        struct naclient_alert a;
        na_error err;
        zmq_pollitem_t pi = {f->router, 0, ZMQ_POLLIN, 0};

        if (zmq_poll(&pi, 1, 0) > 0) {
            json_t *j;

            assert_int_equal(wire_recv_replay_req(f->router, 0, &f->peer, &req, &err), 0);
            j = json_pack("{s:I,s:I,s:b}", "id", (json_int_t)req.id, "after",
                          (json_int_t)req.after, "head", req.head_only);
            wire_replay_req_clear(&req);
            return j;
        }
        /* let the client run (it sends its request from naclient_next) */
        assert_int_equal(naclient_next(c, 30, &a), 0);
    }
    fail_msg("no replay request came");
    return NULL;
}

static int64_t jint(json_t *j, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(j, k));
}

static void expect_alert(struct naclient *c, int64_t seq)
{
    struct naclient_alert a;
    int rc = naclient_next(c, 3000, &a);

    assert_int_equal(rc, 1);
    assert_int_equal(a.seq, seq);
    assert_string_equal(a.body, body_of(seq, a.topic));
    naclient_alert_clear(&a);
}

/* Answer the replay request req with one batch of n (at most 2) alerts of
 * topic "t", then its end marker (last, head; oldest 1). */
static void answer_replay(struct fake_endpoints *f, json_t *req, const int64_t *seqs, size_t n,
                          int64_t last, int64_t head)
{
    const char *tb[] = {"t", "t"}, *bb[2];
    size_t lens[2];
    char b[2][256];

    assert_true(n >= 1 && n <= 2);
    for (size_t i = 0; i < n; i++) {
        snprintf(b[i], sizeof(b[i]), "%s", body_of(seqs[i], "t"));
        bb[i] = b[i];
        lens[i] = strlen(b[i]);
    }
    assert_int_equal(wire_send_replay_batch(f->router, &f->peer, jint(req, "id"), tb, bb, lens, n),
                     0);
    assert_int_equal(wire_send_replay_end(f->router, &f->peer, jint(req, "id"), last, head, 1), 0);
}

static void test_replay_live_gap(void **state)
{
    struct fake_endpoints *f = *state;
    const char *topics[] = {"t"};
    struct naclient_opts o = {0};
    struct naclient *c = NULL;
    struct naclient_alert a;
    char cursor[512], errbuf[256];
    json_t *req;
    FILE *fp;
    long long pos = -5;

    snprintf(cursor, sizeof(cursor), "%s/c%d.cursor", dir, nfix);
    o.alerts_endpoint = f->alerts;
    o.replay_endpoint = f->replay;
    o.topics = topics;
    o.ntopics = 1;
    o.since = 3;
    o.cursor_path = cursor;
    o.replay_timeout_ms = 500;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), 0);
    /* the start: replay after 3 */
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 3);
    answer_replay(f, req, (const int64_t[]){4, 6}, 2, 7, 7);
    json_decref(req);
    expect_alert(c, 4);
    expect_alert(c, 6);
    /* the end marker (last 7) may come after alert 6 was returned: let the
     * client read it (no alert is pending) before checking the cursor */
    for (int i = 0; i < 60 && naclient_position(c) < 7; i++)
        assert_int_equal(naclient_next(c, 50, &a), 0);
    /* the cursor file follows what was finished */
    assert_int_equal(naclient_commit(c), 0);
    fp = fopen(cursor, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%lld", &pos), 1);
    fclose(fp);
    assert_int_equal(pos, 7);
    /* live: 8 directly, 8 again and 5 dropped */
    usleep(200000);
    publish(f, 8, "t");
    publish(f, 8, "t");
    publish(f, 5, "t");
    expect_alert(c, 8);
    /* a jump to 11: held until a replay after 8 answers */
    publish(f, 11, "t");
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 8);
    answer_replay(f, req, (const int64_t[]){10}, 1, 10, 11);
    json_decref(req);
    expect_alert(c, 10);
    expect_alert(c, 11);
    /* a heartbeat ahead: replay; the retention pruned it: reported once */
    assert_int_equal(wire_send_heartbeat(f->pub, 20, 15, 0), 0);
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 11);
    assert_int_equal(wire_send_replay_error(f->router, &f->peer, jint(req, "id"), "truncated",
                                            "truncated, oldest is 15", 15, 20),
                     0);
    json_decref(req);
    assert_int_equal(naclient_next(c, 3000, &a), NACLIENT_TRUNCATED);
    assert_non_null(strstr(naclient_errmsg(c), "oldest is 15"));
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 14);
    json_decref(req);
    naclient_destroy(&c);
    assert_null(c);
}

/* Alert bodies in and out of the matcher's compact form: the seq of
 * {"v":1,"seq":N,...} is recognised from jansson's text of N (the rest is
 * the application's to parse: only its closing brace is checked), any
 * other body is parsed; a leading zero, a seq past INT64_MAX, seq 0 and a
 * body cut short are bad messages, dropped and counted. */
static void test_body_forms(void **state)
{
    static const struct {
        const char *body;
        int64_t seq; /* delivered as this seq; 0: dropped */
    } forms[] = {
        {"{\"v\":1,\"seq\":1,\"rule\":{\"id\":\"t\"}}", 1},
        {"{\"rule\":{\"id\":\"t\"},\"v\":1,\"seq\":2}", 2},
        {"{\"v\":1,\"seq\":03,\"rule\":{\"id\":\"t\"}}", 0},
        {"{\"v\":1,\"seq\":99999999999999999999,\"rule\":{\"id\":\"t\"}}", 0},
        {"{\"v\":1,\"seq\":0,\"rule\":{\"id\":\"t\"}}", 0},
        {"{\"v\":1,\"seq\":3,\"rule\":{\"id\":\"t\"", 0},
        {"{\"v\":1,\"seq\":3,\"rule\":{\"id\":\"t\"}}", 3},
        {"{\"v\":1,\"seq\":4}", 4},
        {"{\"v\":1,\"seq\":5 ,\"rule\":{\"id\":\"t\"}}", 5},
        {"{\"v\":1,\"seq\":9223372036854775807,\"rule\":{\"id\":\"t\"}}", 0},
    };
    struct fake_endpoints *f = *state;
    const char *topics[] = {"t"};
    struct naclient_opts o = {0};
    struct naclient *c = NULL;
    struct naclient_stats st;
    char errbuf[256];
    json_t *req;
    size_t ndropped = 0;

    o.alerts_endpoint = f->alerts;
    o.replay_endpoint = f->replay;
    o.topics = topics;
    o.ntopics = 1;
    o.since = 0;
    o.replay_timeout_ms = 500;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), 0);
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 0);
    assert_int_equal(wire_send_replay_end(f->router, &f->peer, jint(req, "id"), 0, 0, 1), 0);
    json_decref(req);
    usleep(200000);
    /* the last form (a seq far ahead) is left out of the live run: it would
     * start a replay; it is checked below on its own */
    for (size_t i = 0; i + 1 < sizeof(forms) / sizeof(forms[0]); i++) {
        assert_int_equal(
            wire_send_alert(f->pub, "t", forms[i].body, strlen(forms[i].body), 0), 0);
        ndropped += forms[i].seq == 0;
    }
    for (size_t i = 0; i + 1 < sizeof(forms) / sizeof(forms[0]); i++) {
        struct naclient_alert a;

        if (forms[i].seq == 0)
            continue;
        assert_int_equal(naclient_next(c, 3000, &a), 1);
        assert_int_equal(a.seq, forms[i].seq);
        assert_string_equal(a.body, forms[i].body);
        naclient_alert_clear(&a);
    }
    naclient_get_stats(c, &st);
    assert_int_equal(st.bad, ndropped);
    /* INT64_MAX in the compact form: recognised, a jump ahead (replay) */
    assert_int_equal(wire_send_alert(f->pub, "t", forms[9].body, strlen(forms[9].body), 0), 0);
    req = take_request(f, c);
    assert_int_equal(jint(req, "after"), 5);
    json_decref(req);
    naclient_destroy(&c);
}

static void test_bad_options(void **state)
{
    struct fake_endpoints *f = *state;
    struct naclient_opts o = {0};
    struct naclient *c = NULL;
    char errbuf[256], path[512], longtopic[400];
    const char *topics[] = {longtopic};

    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, "required"));
    o.alerts_endpoint = f->alerts;
    o.replay_endpoint = f->replay;
    o.since = -2;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), -1);
    o.since = -1;
    memset(longtopic, 'x', sizeof(longtopic) - 1);
    longtopic[sizeof(longtopic) - 1] = '\0';
    o.topics = topics;
    o.ntopics = 1;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, "longer than"));
    o.ntopics = 0;
    snprintf(path, sizeof(path), "%s/bad.cursor", dir);
    testutil_write_file(path, "12abc\n");
    o.cursor_path = path;
    assert_int_equal(naclient_new(&o, &c, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, "bad.cursor"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replay_live_gap, setup, fake_endpoints_teardown),
        cmocka_unit_test_setup_teardown(test_body_forms, setup, fake_endpoints_teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, fake_endpoints_teardown),
    };
    int rc;

    if (mkdtemp(dir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    return testutil_finish(dir, rc);
}

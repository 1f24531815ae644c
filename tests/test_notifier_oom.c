/*
 * test_notifier_oom.c - the notifier does not drop an alert because it ran
 * out of memory reading it.
 *
 * services/notifier/source.c (a sink's stream) checks each alert with
 * jansson before the sink sees it, and remote.c renders it for a webhook;
 * both used to take any failure for a bad alert: the stream dropped it
 * (and the sink's cursor went past it), the webhook sink gave it up.  The
 * test builds source.c, remote.c, render.c and the client library in and
 * is linked with -Wl,--wrap=malloc (as tests/test_rules_oom.c is); jansson's
 * allocations reach the wrapper through item.c's counting allocator
 * (item_json_alloc_failures).  The wrapper fails either the next
 * allocation of one size (the string of one alert's body that only
 * jansson's parse of it asks for: 777 bytes of text, 780 with the quotes
 * and the NUL) or the k-th allocation from now.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "config.h"
#include "fake_endpoints.h"
#include "remote.h"
#include "source.h"
#include "wire.h"

void *__real_malloc(size_t n);

static atomic_size_t fail_size;  /* fail the next allocation of this size (0: none) */
static atomic_long fail_countdown = -1; /* or the allocation after this many (-1: none) */
static atomic_long failures;

void *__wrap_malloc(size_t n)
{
    if (n != 0 && n == atomic_load(&fail_size)) {
        atomic_store(&fail_size, 0);
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    if (atomic_load(&fail_countdown) >= 0 && atomic_fetch_sub(&fail_countdown, 1) == 0) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    return __real_malloc(n);
}

#define PAD_LEN 777 /* the string of alert 4's body; jansson allocates 780 */

/* Alert seq's body in the matcher's compact form; alert 4 carries a
 * PAD_LEN-byte string. */
static void body_of(int64_t seq, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "{\"v\":1,\"seq\":%lld,\"rule\":{\"id\":\"t\"},\"item\":{\"id\":\"i%lld\","
                     "\"title\":\"",
                     (long long)seq, (long long)seq);
    size_t pad = seq == 4 ? PAD_LEN : 5;

    assert_true(n > 0 && (size_t)n + pad + 4 < size);
    memset(buf + n, 'x', pad);
    memcpy(buf + n + pad, "\"}}", 4);
}

/* --- source.c: an alert held, not dropped --------------------------------- */

static void test_source_holds_alert(void **state)
{
    struct fake_endpoints fe;
    char b[2][1024];
    const char *topics[2] = {"t", "t"}, *bodies[2];
    size_t lens[2];
    char *topic_list[] = {(char *)"t"};
    struct config cfg;
    struct source *src = NULL;
    struct wire_peer peer;
    struct wire_replay_req req;
    na_error err;
    int64_t seq, got[2];
    int ngot = 0;

    (void)state;
    fake_endpoints_open(&fe);
    memset(&cfg, 0, sizeof(cfg));
    cfg.alerts_endpoint = fe.alerts;
    cfg.replay_endpoint = fe.replay;
    na_error_clear(&err);
    assert_int_equal(source_open(&cfg, "test", topic_list, 1, 3, &src, &err), 0);
    /* the stream asks for what follows 3 */
    for (int i = 0; i < 200; i++) {
        zmq_pollitem_t pi = {fe.router, 0, ZMQ_POLLIN, 0};
        char *t, *bd;

        if (zmq_poll(&pi, 1, 0) > 0)
            break;
        assert_int_equal(source_next(src, 20, &t, &bd, &seq), 0);
    }
    assert_int_equal(wire_recv_replay_req(fe.router, 0, &peer, &req, &err), 0);
    assert_int_equal(req.after, 3);
    for (int i = 0; i < 2; i++) {
        body_of(4 + i, b[i], sizeof(b[i]));
        bodies[i] = b[i];
        lens[i] = strlen(b[i]);
    }
    atomic_store(&fail_size, PAD_LEN + 3); /* the check of alert 4 */
    assert_int_equal(wire_send_replay_batch(fe.router, &peer, req.id, topics, bodies, lens, 2), 0);
    assert_int_equal(wire_send_replay_end(fe.router, &peer, req.id, 5, 5, 1), 0);
    for (int i = 0; i < 200 && ngot < 2; i++) {
        char *t = NULL, *bd = NULL;

        if (source_next(src, 20, &t, &bd, &seq) == 1) {
            got[ngot++] = seq;
            free(t);
            free(bd);
        } else if (ngot == 0 && atomic_load(&failures) > 0) {
            /* held: the sink's position stays before it */
            assert_true(source_position(src) <= 3);
        }
    }
    assert_int_equal(atomic_load(&failures), 1); /* the check of alert 4 failed */
    assert_int_equal(ngot, 2);
    assert_int_equal(got[0], 4); /* held, then handed out: not dropped */
    assert_int_equal(got[1], 5);
    assert_int_equal(source_bad(src), 0);
    wire_replay_req_clear(&req);
    source_free(&src);
    fake_endpoints_close(&fe);
}

/* --- remote.c: out of memory is "try again", a bad alert "give up" -------- */

static void test_remote_render_oom(void **state)
{
    static const char bad[] = "{\"v\":1,\"rule\":{\"id\":\"t\"}}"; /* no seq */
    struct sink_conf conf;
    atomic_int stop = 0;
    struct remote *r;
    char body[1024], why[512];
    long after;
    enum remote_outcome out;

    (void)state;
    memset(&conf, 0, sizeof(conf));
    conf.type = SINK_WEBHOOK;
    conf.name = (char *)"webhook";
    /* never reached: every attempt below ends before the transfer */
    conf.url = (char *)"http://127.0.0.1:9/hook";
    conf.tmpl = SINK_TEMPLATE_JSON;
    conf.method = (char *)"POST";
    conf.timeout_s = 1;
    conf.retry_initial_ms = 1;
    conf.retry_max_s = 1;
    r = remote_new(&conf, &stop, NULL, NULL);
    assert_non_null(r);
    body_of(7, body, sizeof(body));
    /* the first allocation of the attempt: render_parse's jansson parse */
    atomic_store(&failures, 0);
    atomic_store(&fail_countdown, 0);
    out = remote_attempt(r, "t", body, strlen(body), 7, &after, why, sizeof(why));
    atomic_store(&fail_countdown, -1);
    assert_int_equal(atomic_load(&failures), 1);
    assert_int_equal(out, REMOTE_RETRY);
    assert_string_equal(why, "out of memory");
    /* a bad alert is still given up, at once */
    out = remote_attempt(r, "t", bad, sizeof(bad) - 1, 7, &after, why, sizeof(why));
    assert_int_equal(out, REMOTE_FAIL);
    assert_non_null(strstr(why, "not a JSON object with a seq"));
    remote_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_holds_alert),
        cmocka_unit_test(test_remote_render_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * matcher_rig.c - the matcher run inside a test process (matcher_rig.h).
 */
#define _GNU_SOURCE /* mkdtemp */
#include "matcher_rig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zmq.h>

#include "config.h"
#include "daemon.h"
#include "item.h"
#include "item_pack.h"
#include "matcher.h"
#include "testutil.h"
#include "wire.h"

static struct {
    char dir[64];
    struct config *cfg;
    struct matcher *m;
    pthread_t tid;
    void *ctx, *dealer, *sub;
} rig;

int64_t matcher_rig_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *matcher_rig_dir(void)
{
    return rig.dir;
}

static void *rig_run(void *arg)
{
    (void)arg;
    matcher_run(rig.m);
    return NULL;
}

/* Wait up to ms for a message on sock. */
static int rig_wait(void *sock, long ms)
{
    zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};

    return zmq_poll(&pi, 1, ms) > 0;
}

/* Receive one two-part message from the SUB: 1 with the topic in topic[]
 * and the body in *part (the caller closes it), 0 when none came. */
static int rig_recv_sub(long ms, char *topic, size_t tsize, int *tlen, zmq_msg_t *part)
{
    int more = 0;
    size_t more_size = sizeof(more);

    if (!rig_wait(rig.sub, ms))
        return 0;
    *tlen = zmq_recv(rig.sub, topic, tsize, 0);
    assert_true(*tlen > 0 && (size_t)*tlen <= tsize);
    zmq_getsockopt(rig.sub, ZMQ_RCVMORE, &more, &more_size);
    assert_true(more);
    zmq_msg_init(part);
    assert_true(zmq_msg_recv(part, rig.sub, 0) >= 0);
    return 1;
}

static int rig_is_heartbeat(const char *topic, int tlen)
{
    return (size_t)tlen == strlen(WIRE_HEARTBEAT_TOPIC) &&
           memcmp(topic, WIRE_HEARTBEAT_TOPIC, (size_t)tlen) == 0;
}

void matcher_rig_start(void)
{
    char path[128], conf[1024];
    int64_t end;
    int heard = 0;
    na_error err;

    snprintf(rig.dir, sizeof(rig.dir), "/tmp/na-matcher-rig-XXXXXX");
    assert_non_null(mkdtemp(rig.dir));
    snprintf(path, sizeof(path), "%s/rules.json", rig.dir);
    testutil_write_file(path, "{\"rules\":[{\"id\":\"nato\",\"query\":\"NATO membership\"}]}");
    snprintf(conf, sizeof(conf),
             "{\"state_dir\":\"%s/var\",\"rules\":\"%s/rules.json\","
             "\"items_endpoint\":\"ipc://%s/items\",\"alerts_endpoint\":\"ipc://%s/alerts\","
             "\"replay_endpoint\":\"ipc://%s/replay\",\"matcher\":{\"threads\":1},"
             "\"journal\":{\"sync\":false}}",
             rig.dir, rig.dir, rig.dir, rig.dir, rig.dir);
    snprintf(path, sizeof(path), "%s/config.json", rig.dir);
    testutil_write_file(path, conf);
    na_error_clear(&err);
    if (config_load(path, &rig.cfg, &err) != 0)
        fail_msg("%s", err.msg);
    if (matcher_new(rig.cfg, &rig.m, &err) != 0)
        fail_msg("%s", err.msg);
    daemon_quit = 0;
    assert_int_equal(pthread_create(&rig.tid, NULL, rig_run, NULL), 0);
    rig.ctx = zmq_ctx_new();
    rig.dealer = zmq_socket(rig.ctx, ZMQ_DEALER);
    rig.sub = zmq_socket(rig.ctx, ZMQ_SUB);
    snprintf(path, sizeof(path), "ipc://%s/items", rig.dir);
    assert_int_equal(zmq_connect(rig.dealer, path), 0);
    zmq_setsockopt(rig.sub, ZMQ_SUBSCRIBE, "", 0);
    snprintf(path, sizeof(path), "ipc://%s/alerts", rig.dir);
    assert_int_equal(zmq_connect(rig.sub, path), 0);
    /* a heartbeat (once a second) says the subscription is in place */
    end = matcher_rig_now_ms() + 10000;
    while (!heard && matcher_rig_now_ms() < end) {
        char topic[300];
        int tlen;
        zmq_msg_t part;

        if (rig_recv_sub(200, topic, sizeof(topic), &tlen, &part)) {
            heard = rig_is_heartbeat(topic, tlen);
            zmq_msg_close(&part);
        }
    }
    assert_true(heard);
}

void matcher_rig_stop(void)
{
    daemon_quit = 1;
    pthread_join(rig.tid, NULL);
    zmq_close(rig.dealer);
    zmq_close(rig.sub);
    zmq_ctx_term(rig.ctx);
    matcher_destroy(&rig.m);
    config_free(&rig.cfg);
}

char *matcher_rig_encode(const char *id, size_t title_len, int enc, size_t *len)
{
    struct item *it = item_new();
    char *title = malloc(title_len + 1), *data;

    assert_non_null(it);
    assert_non_null(title);
    assert_true(title_len >= 16);
    memset(title, 'x', title_len);
    memcpy(title, "NATO membership ", 16);
    title[title_len] = '\0';
    assert_int_equal(item_set(&it->id, id), 0);
    assert_int_equal(item_set(&it->title, title), 0);
    assert_int_equal(item_set(&it->link, "https://news.example/story"), 0);
    assert_int_equal(item_set(&it->feed, "https://news.example/feed.xml"), 0);
    free(title);
    if (enc == WIRE_ENC_PACKED) {
        data = (char *)item_pack_encode(it, len);
    } else {
        data = item_to_json(it);
        *len = data != NULL ? strlen(data) : 0;
    }
    assert_non_null(data);
    item_free(&it);
    return data;
}

void matcher_rig_send(int64_t tag, int enc, const char *data, size_t len)
{
    assert_int_equal(wire_send_handoff_enc(rig.dealer, tag, enc, data, len, 0), 0);
}

void matcher_rig_acks(long ms, int *acked, size_t ntags, int64_t tag, int count)
{
    int64_t end = matcher_rig_now_ms() + ms;

    for (;;) {
        int64_t left = end - matcher_rig_now_ms(), *tags = NULL;
        size_t n;
        na_error err;

        if (tag >= 0 && acked[tag] >= count)
            return;
        if (left <= 0 || !rig_wait(rig.dealer, (long)left))
            return;
        assert_int_equal(wire_recv_acks(rig.dealer, 0, &tags, &n, &err), 0);
        for (size_t i = 0; i < n; i++) {
            assert_true(tags[i] >= 0 && (size_t)tags[i] < ntags);
            acked[tags[i]]++;
        }
        free(tags);
    }
}

int matcher_rig_alert(long ms, char *id, size_t idsize, int64_t *seq)
{
    int64_t end = matcher_rig_now_ms() + ms;

    for (;;) {
        int64_t left = end - matcher_rig_now_ms();
        char topic[300];
        int tlen;
        zmq_msg_t part;
        json_t *root;

        if (left <= 0 || !rig_recv_sub((long)left, topic, sizeof(topic), &tlen, &part))
            return 0;
        if (rig_is_heartbeat(topic, tlen)) {
            zmq_msg_close(&part);
            continue;
        }
        root = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, NULL);
        zmq_msg_close(&part);
        assert_non_null(root);
        snprintf(id, idsize, "%s",
                 json_string_value(json_object_get(json_object_get(root, "item"), "id")));
        if (seq != NULL)
            *seq = (int64_t)json_integer_value(json_object_get(root, "seq"));
        json_decref(root);
        return 1;
    }
}

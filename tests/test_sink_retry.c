/*
 * test_sink_retry.c - a notifier sink that cannot act on an alert for want
 * of a resource tries again; it never passes the alert by.
 *
 *   exec    a command that cannot be started (pipe() fails with EMFILE:
 *           the process is out of file descriptors) is started again with
 *           the local sinks' backoff; it used to count as done at once, the
 *           cursor moved past its alert and the command never ran;
 *   stdout  (text) an alert whose rendering ran out of memory is written
 *           again; it used to be written as "(unreadable alert)" and
 *           counted as delivered.
 *
 * The real sink set (sink.c, source.c, cursor.c and the client library,
 * built in) reads its alerts from this test, which plays the matcher: a
 * PUB and a replay ROUTER on loopback, answering the stream's replay
 * request with the alerts.  Linked with -Wl,--wrap=pipe and
 * -Wl,--wrap=malloc; jansson's allocations reach the malloc wrapper
 * through item.c's counting allocator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "config.h"
#include "fake_endpoints.h"
#include "sink.h"
#include "testutil.h"
#include "wire.h"

int __real_pipe(int fds[2]);
void *__real_malloc(size_t n);

static atomic_int pipe_fail;      /* fail the next this many pipe() calls */
static atomic_int pipe_failed;
static atomic_size_t fail_size;   /* fail an allocation of this size ... */
static atomic_int fail_skip;      /* ... after letting this many through */
static atomic_int malloc_failed;

int __wrap_pipe(int fds[2])
{
    if (atomic_load(&pipe_fail) > 0) {
        atomic_fetch_sub(&pipe_fail, 1);
        atomic_fetch_add(&pipe_failed, 1);
        errno = EMFILE;
        return -1;
    }
    return __real_pipe(fds);
}

void *__wrap_malloc(size_t n)
{
    if (n != 0 && n == atomic_load(&fail_size)) {
        if (atomic_load(&fail_skip) > 0) {
            atomic_fetch_sub(&fail_skip, 1);
        } else {
            atomic_store(&fail_size, 0);
            atomic_fetch_add(&malloc_failed, 1);
            return NULL;
        }
    }
    return __real_malloc(n);
}

#define NALERTS 5
#define PAD_LEN 777 /* alert 4's title; jansson allocates 780 bytes to parse it */

static char dir[64];

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Alert seq's body in the matcher's compact form; alert 4's title is
 * PAD_LEN bytes of 'x'. */
static void body_of(int64_t seq, char *buf, size_t size)
{
    size_t pad = seq == 4 ? PAD_LEN : 5;
    int n = snprintf(buf, size,
                     "{\"v\":1,\"seq\":%lld,\"rule\":{\"id\":\"t\"},\"item\":{\"id\":\"i%lld\","
                     "\"title\":\"",
                     (long long)seq, (long long)seq);

    assert_true(n > 0 && (size_t)n + pad + 4 < size);
    memset(buf + n, 'x', pad);
    memcpy(buf + n + pad, "\"}}", 4);
}

/* The matcher's side (fake_endpoints.h): nothing is published live; the
 * replay ROUTER answers the stream's first request with alerts
 * 1..NALERTS. */
static void fake_serve(struct fake_endpoints *fm)
{
    zmq_pollitem_t pi = {fm->router, 0, ZMQ_POLLIN, 0};
    char b[NALERTS][1024];
    const char *topics[NALERTS], *bodies[NALERTS];
    size_t lens[NALERTS];
    struct wire_peer peer;
    struct wire_replay_req req;
    na_error err;

    assert_true(zmq_poll(&pi, 1, 10000) == 1);
    na_error_clear(&err);
    assert_int_equal(wire_recv_replay_req(fm->router, 0, &peer, &req, &err), 0);
    assert_int_equal(req.after, 0); /* no cursor yet, "start": "oldest" */
    for (int i = 0; i < NALERTS; i++) {
        body_of(i + 1, b[i], sizeof(b[i]));
        topics[i] = "t";
        bodies[i] = b[i];
        lens[i] = strlen(b[i]);
    }
    assert_int_equal(
        wire_send_replay_batch(fm->router, &peer, req.id, topics, bodies, lens, NALERTS), 0);
    assert_int_equal(wire_send_replay_end(fm->router, &peer, req.id, NALERTS, NALERTS, 1), 0);
    wire_replay_req_clear(&req);
}

/* Load a configuration of one sink (JSON text `sink`) against fm. */
static struct config *load_config(const struct fake_endpoints *fm, const char *sink)
{
    char path[128], text[1024];
    struct config *cfg = NULL;
    na_error err;

    snprintf(path, sizeof(path), "%s/newsalert.json", dir);
    snprintf(text, sizeof(text),
             "{\"alerts_endpoint\": \"%s\", \"replay_endpoint\": \"%s\", \"state_dir\": "
             "\"%s/var\", \"notifier\": {\"sinks\": [%s]}}",
             fm->alerts, fm->replay, dir, sink);
    testutil_write_file(path, text);
    na_error_clear(&err);
    if (config_load(path, &cfg, &err) != 0)
        fail_msg("config: %s", err.msg);
    return cfg;
}

/* The file's contents (caller frees); "" when it does not exist. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = calloc(1, 65536);
    size_t n = 0;

    assert_non_null(buf);
    if (fp != NULL) {
        n = fread(buf, 1, 65535, fp);
        fclose(fp);
    }
    buf[n] = '\0';
    return buf;
}

static int count_lines(const char *path)
{
    char *s = slurp(path);
    int n = 0;

    for (char *p = s; *p != '\0'; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* Wait (10 s at most) until path holds `want` lines. */
static void wait_lines(const char *path, int want)
{
    int64_t end = now_ms() + 10000;

    while (count_lines(path) < want && now_ms() < end)
        usleep(20 * 1000);
}

static void test_exec_start_retried(void **state)
{
    struct fake_endpoints fm;
    struct config *cfg;
    struct sinkset *set = NULL;
    struct sinkset_stats st;
    char sink[512], out[128], *text;
    int seen[NALERTS + 1] = {0};
    na_error err;

    (void)state;
    snprintf(out, sizeof(out), "%s/exec.out", dir);
    fake_endpoints_open(&fm);
    snprintf(sink, sizeof(sink),
             "{\"type\": \"exec\", \"concurrency\": 2, \"command\": "
             "\"echo \\\"$NEWSALERT_SEQ\\\" >> %s\"}",
             out);
    cfg = load_config(&fm, sink);
    na_error_clear(&err);
    assert_int_equal(sinkset_open(cfg, &set, &err), 0);
    atomic_store(&pipe_failed, 0);
    atomic_store(&pipe_fail, 3); /* the first three commands cannot start */
    assert_int_equal(sinkset_start(set, &err), 0);
    fake_serve(&fm);
    wait_lines(out, NALERTS);
    sinkset_stop(set, 2000);
    sinkset_get_stats(set, &st);
    assert_int_equal(atomic_load(&pipe_failed), 3);
    assert_true(st.retries >= 3);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.delivered, NALERTS);
    /* every alert's command ran, once */
    text = slurp(out);
    for (char *p = text; *p != '\0';) {
        char *end;
        long seq = strtol(p, &end, 10);

        assert_true(end > p && *end == '\n' && seq >= 1 && seq <= NALERTS);
        seen[seq]++;
        p = end + 1;
    }
    free(text);
    for (int i = 1; i <= NALERTS; i++)
        assert_int_equal(seen[i], 1);
    sinkset_free(&set);
    config_free(&cfg);
    fake_endpoints_close(&fm);
}

static void test_stdout_render_retried(void **state)
{
    struct fake_endpoints fm;
    struct config *cfg;
    struct sinkset *set = NULL;
    struct sinkset_stats st;
    char out[128], title[PAD_LEN + 1], *text;
    int fd, saved;
    na_error err;

    (void)state;
    snprintf(out, sizeof(out), "%s/stdout.out", dir);
    fake_endpoints_open(&fm);
    cfg = load_config(&fm, "{\"type\": \"stdout\", \"format\": \"text\"}");
    na_error_clear(&err);
    assert_int_equal(sinkset_open(cfg, &set, &err), 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    close(fd);
    /* alert 4's title: the stream's check parses it first, then the
     * rendering: that one fails */
    atomic_store(&malloc_failed, 0);
    atomic_store(&fail_skip, 1);
    atomic_store(&fail_size, PAD_LEN + 3);
    assert_int_equal(sinkset_start(set, &err), 0);
    fake_serve(&fm);
    wait_lines(out, NALERTS);
    sinkset_stop(set, 2000);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    atomic_store(&fail_size, 0);
    sinkset_get_stats(set, &st);
    assert_int_equal(atomic_load(&malloc_failed), 1);
    assert_true(st.retries >= 1);
    assert_int_equal(st.delivered, NALERTS);
    text = slurp(out);
    assert_null(strstr(text, "unreadable"));
    memset(title, 'x', PAD_LEN);
    title[PAD_LEN] = '\0';
    assert_non_null(strstr(text, title)); /* alert 4, rendered on the retry */
    assert_int_equal(count_lines(out), NALERTS);
    free(text);
    sinkset_free(&set);
    config_free(&cfg);
    fake_endpoints_close(&fm);
}

/* Each test starts without cursors. */
static int fresh_state(void **state)
{
    char var[128];

    (void)state;
    snprintf(var, sizeof(var), "%s/var", dir);
    testutil_rm_tree(var);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_exec_start_retried, fresh_state),
        cmocka_unit_test_setup(test_stdout_render_retried, fresh_state),
    };

    /* as the daemon does (daemon.h): a command that exits without reading
     * its input must not kill the process */
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "/tmp/na-sink-retry-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    return testutil_finish(dir, cmocka_run_group_tests(tests, NULL, NULL));
}

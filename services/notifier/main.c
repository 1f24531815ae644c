/*
 * newsalert-notifier - subscribe to the matcher's alerts and deliver them.
 *
 * options -> config (-n only checks it) -> set-up (sinks, SUB socket) ->
 * loop on zmq_poll -> orderly shutdown.  Bad messages are logged, counted
 * and dropped; the work of delivering lives in sink.c.
 *
 * Signals only set flags: SIGTERM/SIGINT stop after the alert in hand
 * (running commands get about a second), SIGHUP reopens file sinks (sink
 * changes in the configuration need a restart), SIGCHLD wakes the loop to
 * reap commands.  They are blocked while libzmq starts its threads, so they
 * are delivered to the main thread and interrupt zmq_poll.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "sink.h"
#include "wire.h"

#define NOTIFIER_MAX_WAIT_MS 250  /* upper bound on one zmq_poll */
#define NOTIFIER_BATCH 64         /* messages handled per wake-up */
#define NOTIFIER_SHUTDOWN_MS 1000 /* grace for running commands */

static volatile sig_atomic_t chld_flag;

static void on_sigchld(int sig)
{
    (void)sig;
    chld_flag = 1;
}

/* The shared SIGTERM/SIGINT/SIGHUP flags plus SIGCHLD, all without
 * SA_RESTART so that a signal interrupts zmq_poll.  *blocked gets the set
 * to block while libzmq starts its threads. */
static void setup_signals(sigset_t *blocked)
{
    struct sigaction sa;

    daemon_install_signals();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(blocked);
    sigaddset(blocked, SIGTERM);
    sigaddset(blocked, SIGINT);
    sigaddset(blocked, SIGHUP);
    sigaddset(blocked, SIGCHLD);
}

/* Create the SUB socket: subscribe to the configured prefixes, connect.
 * Returns the socket or NULL (logged). */
static void *open_sub(void *ctx, const struct config *cfg)
{
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    int64_t maxsize = 4 * (int64_t)WIRE_MAX_ALERT; /* far larger: drop the peer */
    int linger = 0;

    if (sock == NULL) {
        log_error("cannot create the SUB socket: %s", zmq_strerror(errno));
        return NULL;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    for (size_t i = 0; i < cfg->notifier.ntopics; i++)
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, cfg->notifier.topics[i],
                       strlen(cfg->notifier.topics[i]));
    if (zmq_connect(sock, cfg->alerts_endpoint) != 0) {
        log_error("cannot connect to %s: %s", cfg->alerts_endpoint, zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

/* Handle the messages waiting on sock (at most a batch).  Returns how many
 * bad messages were dropped. */
static unsigned long handle_alerts(void *sock, struct sinkset *sinks, unsigned long bad_before)
{
    unsigned long bad = 0;

    for (int n = 0; n < NOTIFIER_BATCH && !daemon_quit; n++) {
        char *topic = NULL, *body = NULL;
        na_error err;
        int rc;

        na_error_clear(&err);
        rc = wire_recv_alert(sock, ZMQ_DONTWAIT, &topic, &body, &err);
        if (rc == -2)
            break;
        if (rc == -1) {
            bad++;
            log_warn("bad message dropped (%lu so far): %s", bad_before + bad, err.msg);
            continue;
        }
        sinkset_deliver(sinks, topic, body, strlen(body));
        free(topic);
        free(body);
    }
    return bad;
}

int main(int argc, char **argv)
{
    struct daemon_opts opts;
    struct config *cfg = NULL;
    struct sinkset *sinks = NULL;
    struct sinkset_stats st;
    void *ctx = NULL, *sock = NULL;
    unsigned long bad = 0;
    sigset_t blocked;
    na_error err;
    int status = 1;

    daemon_parse_args(argc, argv,
                      "Subscribe to the matcher's alerts and deliver them to the configured\n"
                      "sinks (stdout, file, exec).  Runs in the foreground, logs to stderr.\n"
                      "SIGHUP reopens file sinks; other sink changes need a restart.",
                      &opts);
    log_init("notifier");
    na_error_clear(&err);
    if (config_load(opts.config, &cfg, &err) != 0) {
        fprintf(stderr, "newsalert-notifier: %s\n", err.msg);
        return 1;
    }
    if (opts.check_only) {
        printf("configuration OK\n");
        config_free(&cfg);
        return 0;
    }

    setup_signals(&blocked);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    if (sinkset_open(cfg, &sinks, &err) != 0) {
        log_error("%s", err.msg);
        goto out;
    }
    ctx = zmq_ctx_new();
    if (ctx == NULL || (sock = open_sub(ctx, cfg)) == NULL)
        goto out;
    sigprocmask(SIG_UNBLOCK, &blocked, NULL);
    log_info("newsalert-notifier %s: subscribed to %s, %zu sinks", NEWSALERT_VERSION,
             cfg->alerts_endpoint, cfg->notifier.nsinks);

    status = 0;
    while (!daemon_quit) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int wait = sinkset_timeout_ms(sinks);

        if (daemon_reload) {
            daemon_reload = 0;
            log_info("SIGHUP: reopening files (sink changes need a restart)");
            sinkset_reopen(sinks);
        }
        if (wait < 0 || wait > NOTIFIER_MAX_WAIT_MS)
            wait = NOTIFIER_MAX_WAIT_MS;
        if (zmq_poll(&item, 1, wait) < 0 && errno != EINTR) {
            log_error("zmq_poll: %s", zmq_strerror(errno));
            status = 1;
            break;
        }
        chld_flag = 0;
        if (item.revents & ZMQ_POLLIN)
            bad += handle_alerts(sock, sinks, bad);
        sinkset_tick(sinks);
    }

    log_info("shutting down");
    sinkset_shutdown(sinks, NOTIFIER_SHUTDOWN_MS);
    sinkset_get_stats(sinks, &st);
    log_info("delivered %llu alerts, %llu duplicates, %lu bad messages, %llu sink failures, "
             "%llu dropped from queues",
             st.delivered, st.duplicates, bad, st.failures, st.dropped);
out:
    if (sock != NULL)
        zmq_close(sock);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    sinkset_free(&sinks);
    config_free(&cfg);
    return status;
}

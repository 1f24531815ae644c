/*
 * cmd_subscribe.c - `newsalert subscribe -c FILE [TOPIC...]`: connect to
 * the matcher's alerts_endpoint and print each alert body as one JSON line
 * (flushed per alert) until interrupted.  TOPIC is a prefix of rule ids;
 * none means all.  Bad messages are reported on stderr and skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "wire.h"

int cmd_subscribe(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    struct config *cfg = NULL;
    void *ctx = NULL, *sub = NULL;
    zmq_pollitem_t pi;
    na_error err;
    int c, i, rc = 1, linger = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            printf("usage: newsalert subscribe -c FILE [TOPIC...]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, "usage: newsalert subscribe -c FILE [TOPIC...]\n");
        return 2;
    }
    na_error_clear(&err);
    if (config_load(config_path, &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    daemon_install_signals();
    ctx = zmq_ctx_new();
    sub = ctx != NULL ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (sub == NULL) {
        fprintf(stderr, "newsalert: cannot create socket: %s\n", zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    if (optind == argc)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    for (i = optind; i < argc; i++)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[i], strlen(argv[i]));
    if (zmq_connect(sub, cfg->alerts_endpoint) != 0) {
        fprintf(stderr, "newsalert: cannot connect to %s: %s\n", cfg->alerts_endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    pi.socket = sub;
    pi.fd = 0;
    pi.events = ZMQ_POLLIN;
    rc = 0;
    while (!daemon_quit) {
        char *topic = NULL, *body = NULL;
        int n = zmq_poll(&pi, 1, 500);

        if (n < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "newsalert: poll failed: %s\n", zmq_strerror(zmq_errno()));
            rc = 1;
            break;
        }
        if (n <= 0)
            continue;
        na_error_clear(&err);
        n = wire_recv_alert(sub, ZMQ_DONTWAIT, &topic, &body, &err);
        if (n == -1)
            fprintf(stderr, "newsalert: dropped a bad alert message: %s\n", err.msg);
        if (n == 0) {
            printf("%s\n", body);
            fflush(stdout);
        }
        free(topic);
        free(body);
    }
out:
    if (sub != NULL)
        zmq_close(sub);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    config_free(&cfg);
    return rc;
}

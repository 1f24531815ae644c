/*
 * cmd_subscribe.c - `newsalert subscribe -c FILE [--since SEQ] [--cursor
 * FILE] [TOPIC...]`: print each alert body as one JSON line (flushed per
 * alert) until interrupted, through the client library (naclient.h): each
 * alert once, in seq order, gaps filled from the matcher's replay endpoint.
 * TOPIC is a prefix of rule ids; none means all.  --since SEQ starts after
 * that seq (0: everything the journal holds); --cursor FILE resumes from
 * the position saved in FILE and keeps it up to date.  Without either,
 * alerts from now on are printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "naclient.h"

#define SUBSCRIBE_USAGE "usage: newsalert subscribe -c FILE [--since SEQ] [--cursor FILE] [TOPIC...]\n"

int cmd_subscribe(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"since", required_argument, NULL, 's'},
                                             {"cursor", required_argument, NULL, 'C'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *cursor = NULL;
    struct naclient_opts opts;
    struct naclient *client = NULL;
    struct config *cfg = NULL;
    long long since = -1;
    char errbuf[512], *end;
    na_error err;
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            errno = 0;
            since = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || since < 0) {
                fprintf(stderr, "newsalert: --since '%s' is not a seq (an integer >= 0)\n",
                        optarg);
                return 2;
            }
            break;
        case 'C':
            cursor = optarg;
            break;
        case 'h':
            printf(SUBSCRIBE_USAGE);
            return 0;
        default:
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, SUBSCRIBE_USAGE);
        return 2;
    }
    na_error_clear(&err);
    if (config_load(config_path, &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    daemon_install_signals();
    memset(&opts, 0, sizeof(opts));
    opts.alerts_endpoint = cfg->alerts_endpoint;
    opts.replay_endpoint = cfg->replay_endpoint;
    opts.topics = (const char *const *)&argv[optind];
    opts.ntopics = (size_t)(argc - optind);
    opts.since = since;
    opts.cursor_path = cursor;
    if (naclient_new(&opts, &client, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "newsalert: %s\n", errbuf);
        config_free(&cfg);
        return 1;
    }
    rc = 0;
    while (!daemon_quit) {
        struct naclient_alert a;
        int n = naclient_next(client, 500, &a);

        if (n == 1) {
            if (fwrite(a.body, 1, a.len, stdout) != a.len || putchar('\n') == EOF ||
                fflush(stdout) != 0) {
                naclient_alert_clear(&a);
                fprintf(stderr, "newsalert: cannot write alerts: %s\n", strerror(errno));
                rc = 1;
                break;
            }
            naclient_alert_clear(&a);
        } else if (n == NACLIENT_TRUNCATED) {
            fprintf(stderr, "newsalert: %s\n", naclient_errmsg(client));
        } else if (n < 0) {
            fprintf(stderr, "newsalert: %s\n", naclient_errmsg(client));
        }
    }
    {
        struct naclient_stats st;

        naclient_get_stats(client, &st);
        fprintf(stderr,
                "newsalert: %llu alerts (%llu live, %llu replayed), %llu duplicates dropped, "
                "%llu replay requests, %llu bad messages, position %lld\n",
                (unsigned long long)(st.live + st.replayed), (unsigned long long)st.live,
                (unsigned long long)st.replayed, (unsigned long long)st.duplicates,
                (unsigned long long)st.replays, (unsigned long long)st.bad,
                (long long)naclient_position(client));
    }
    naclient_destroy(&client); /* saves the cursor */
    config_free(&cfg);
    return rc;
}

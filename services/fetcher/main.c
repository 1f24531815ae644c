/*
 * newsalert-fetcher: poll RSS/Atom/JSON feeds and hand each new item to
 * the matcher.  main reads as: options -> configuration (-n stops here)
 * -> set-up -> loop until SIGTERM/SIGINT -> orderly shutdown.  The work
 * lives in fetcher.c, poller.c, feedset.c and ingest.c.
 *
 * Besides the daemon options (daemon.h), `--once` polls every feed once,
 * now, waits for all of them, prints a one-line JSON summary of the round
 * on stdout and exits (benchmarks, cron-style use, debugging a feed).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "fetcher.h"
#include "log.h"

#define MAIN_MAX_ARGS 64

int main(int argc, char **argv)
{
    struct daemon_opts opts;
    struct config *cfg = NULL;
    struct feedlist *fl = NULL;
    struct fetcher *f = NULL;
    char *args[MAIN_MAX_ARGS + 1];
    int nargs = 0, once = 0, i;
    na_error err;
    int rc = 1;

    /* take --once out; daemon_parse_args handles the rest */
    for (i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--once") == 0) {
            once = 1;
            continue;
        }
        if (nargs == MAIN_MAX_ARGS) {
            fprintf(stderr, "newsalert-fetcher: too many arguments\n");
            return 1;
        }
        args[nargs++] = argv[i];
    }
    args[nargs] = NULL;
    daemon_parse_args(nargs, args, "Poll news feeds and push new items to the matcher "
                                   "(--once: poll every feed once and exit).", &opts);
    log_init("fetcher");
    na_error_clear(&err);
    if (config_load(opts.config, &cfg, &err) != 0 || feedlist_load(cfg, &fl, &err) != 0) {
        log_error("%s", err.msg);
        config_free(&cfg);
        return 1;
    }
    if (opts.check_only) {
        printf("configuration OK (%zu feeds)\n", fl->nfeeds);
        feedlist_free(&fl);
        config_free(&cfg);
        return 0;
    }
    daemon_install_signals();
    if (fetcher_new(cfg, &fl, &f, &err) == 0) {
        if (once) {
            struct fetcher_round r;

            rc = fetcher_run_once(f, &r);
            printf("{\"feeds\": %zu, \"ok\": %zu, \"not_modified\": %zu, \"failed\": %zu, "
                   "\"items\": %zu, \"sent\": %zu, \"deferred\": %zu, \"cut\": %zu, "
                   "\"dropped\": %zu}\n",
                   r.feeds, r.ok, r.not_modified, r.failed, r.items, r.sent, r.deferred, r.cut,
                   r.dropped);
            fflush(stdout);
        } else {
            rc = fetcher_run(f);
        }
        fetcher_destroy(&f);
    } else {
        log_error("%s", err.msg);
    }
    config_free(&cfg);
    return rc;
}

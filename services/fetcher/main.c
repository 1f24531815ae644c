/*
 * newsalert-fetcher: poll RSS/Atom/JSON feeds and PUSH each new item to
 * the matcher.  main reads as: options -> configuration (-n stops here)
 * -> set-up -> loop until SIGTERM/SIGINT -> orderly shutdown.  The work
 * lives in fetcher.c, poller.c, feedset.c and ingest.c.
 */
#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "fetcher.h"
#include "log.h"

int main(int argc, char **argv)
{
    struct daemon_opts opts;
    struct config *cfg = NULL;
    struct feedlist *fl = NULL;
    struct fetcher *f = NULL;
    na_error err;
    int rc = 1;

    daemon_parse_args(argc, argv, "Poll news feeds and push new items to the matcher.", &opts);
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
        rc = fetcher_run(f);
        fetcher_destroy(&f);
    } else {
        log_error("%s", err.msg);
    }
    config_free(&cfg);
    return rc;
}

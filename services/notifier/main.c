/*
 * newsalert-notifier - deliver the matcher's alerts to the configured sinks.
 *
 * options -> config (-n only checks it) -> set-up (cursors, sinks, one
 * stream and one worker thread per sink, see sink.h) -> wait for signals ->
 * orderly shutdown.  The work of delivering lives in sink.c.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigtimedwait: SIGTERM/SIGINT stop (an alert in a transfer or a backoff is
 * abandoned and resent after the next start; running commands get about a
 * second), SIGHUP makes file sinks reopen their files (other sink changes
 * need a restart).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "sink.h"

#define NOTIFIER_WAKE_MS 250      /* longest sigtimedwait */
#define NOTIFIER_SHUTDOWN_MS 1000 /* grace for running commands */

int main(int argc, char **argv)
{
    struct daemon_opts opts;
    struct config *cfg = NULL;
    struct sinkset *sinks = NULL;
    struct sinkset_stats st;
    sigset_t sigs;
    na_error err;
    int status = 1;

    daemon_parse_args(argc, argv,
                      "Deliver the matcher's alerts to the configured sinks (stdout, file,\n"
                      "exec, webhook, email), each resuming where it stopped.  Runs in the\n"
                      "foreground, logs to stderr.  SIGHUP reopens file sinks; other sink\n"
                      "changes need a restart.",
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

    /* blocked before any thread exists (libzmq's, libcurl's resolver,
     * the sinks'), so only sigtimedwait below ever sees them */
    daemon_install_signals();
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    sigdelset(&sigs, SIGCHLD); /* commands are reaped by their sink's worker */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialise libcurl");
        goto out;
    }
    if (sinkset_open(cfg, &sinks, &err) != 0 || sinkset_start(sinks, &err) != 0) {
        log_error("%s", err.msg);
        goto out;
    }
    log_info("newsalert-notifier %s: %zu sinks on %s", NEWSALERT_VERSION, cfg->notifier.nsinks,
             cfg->alerts_endpoint);

    status = 0;
    while (!daemon_quit) {
        struct timespec wake = {0, NOTIFIER_WAKE_MS * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &wake);

        if (sig == SIGTERM || sig == SIGINT) {
            daemon_quit = 1;
        } else if (sig == SIGHUP || daemon_reload) {
            daemon_reload = 0;
            log_info("SIGHUP: reopening files (sink changes need a restart)");
            sinkset_reopen(sinks);
        }
    }

    log_info("shutting down");
    sinkset_stop(sinks, NOTIFIER_SHUTDOWN_MS);
    sinkset_get_stats(sinks, &st);
    log_info("delivered %llu alerts, %llu retried attempts, %llu failures, %llu duplicates "
             "skipped, %llu bad messages",
             st.delivered, st.retries, st.failures, st.duplicates, st.bad);
out:
    sinkset_free(&sinks);
    curl_global_cleanup();
    config_free(&cfg);
    return status;
}

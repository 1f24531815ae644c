/*
 * daemon.c - command line, signals and state directory for the daemons
 * (see daemon.h).
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

volatile sig_atomic_t daemon_quit = 0;
volatile sig_atomic_t daemon_reload = 0;

static void usage(FILE *fp, const char *prog, const char *what)
{
    fprintf(fp,
            "usage: %s -c FILE [-n]\n"
            "%s\n\n"
            "  -c, --config FILE  the deployment configuration (JSON)\n"
            "  -n, --check        check the configuration, print \"configuration OK\" and exit\n"
            "  -h, --help         show this help\n"
            "  -V, --version      show the version\n\n"
            "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads.\n"
            "Log level: NEWSALERT_LOG_LEVEL=debug|info|warn|error.\n",
            prog, what);
}

void daemon_parse_args(int argc, char **argv, const char *what, struct daemon_opts *opts)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *prog = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    int c;

    memset(opts, 0, sizeof(*opts));
    while ((c = getopt_long(argc, argv, "c:nhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts->config = optarg;
            break;
        case 'n':
            opts->check_only = 1;
            break;
        case 'h':
            usage(stdout, prog, what);
            exit(0);
        case 'V':
            printf("%s %s\n", prog, NEWSALERT_VERSION);
            exit(0);
        default:
            usage(stderr, prog, what);
            exit(1);
        }
    }
    if (opts->config == NULL || optind != argc) {
        if (opts->config == NULL)
            fprintf(stderr, "%s: missing -c FILE\n", prog);
        else
            fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        usage(stderr, prog, what);
        exit(1);
    }
}

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        daemon_reload = 1;
    else
        daemon_quit = 1;
}

void daemon_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int daemon_thread_start(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(tid, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int daemon_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path), i;

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            buf[i] = saved;
        }
    }
    return 0;
}

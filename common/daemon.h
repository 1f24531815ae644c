/*
 * daemon.h - what the three daemons share around their main loop.
 *
 * Command line: `-c FILE` (the configuration), `-n` (check the
 * configuration and exit 0/1), `-h`/`--help`, `-V`/`--version`.
 * Signals: SIGTERM/SIGINT set daemon_quit, SIGHUP sets daemon_reload; the
 * handlers do nothing else, the loops look at the flags between messages.
 */
#ifndef NEWSALERT_DAEMON_H
#define NEWSALERT_DAEMON_H

#include <pthread.h>
#include <signal.h>

extern volatile sig_atomic_t daemon_quit;
extern volatile sig_atomic_t daemon_reload;

struct daemon_opts {
    const char *config; /* -c FILE */
    int check_only;     /* -n */
};

/* Parse argv.  Prints help or version and exits 0 for --help/--version;
 * prints usage and exits 1 on a bad command line.  `what` is a one-line
 * description for --help. */
void daemon_parse_args(int argc, char **argv, const char *what, struct daemon_opts *opts);

/* Install the SIGTERM/SIGINT/SIGHUP handlers (without SA_RESTART, so a
 * blocking zmq_poll returns EINTR) and ignore SIGPIPE. */
void daemon_install_signals(void);

/* pthread_create() with every signal blocked in the new thread, so that
 * SIGTERM/SIGHUP reach the thread whose wait (zmq_poll, curl) they must
 * interrupt.  Returns pthread_create's result.  For every helper thread. */
int daemon_thread_start(pthread_t *tid, void *(*fn)(void *), void *arg);

/* mkdir -p for the state directory.  Returns 0 or -1 (errno set). */
int daemon_mkdirs(const char *path);

#endif

/*
 * naclient.h - libnewsalert-client: receive newsalert alerts exactly once,
 * in order, across restarts of the client and of the matcher.
 *
 * The public header of the installable client library (link with
 * -lnewsalert-client; it needs only libzmq and jansson).  A client
 * subscribes to the matcher's alerts_endpoint (PUB) for some topic
 * prefixes (rule ids) and fills every gap from its replay_endpoint
 * (ROUTER): at start from a seq or a cursor file, and whenever it detects
 * a gap (a jump in seq, or a heartbeat whose head is beyond what it has
 * seen).  Duplicates are dropped, so naclient_next() gives each matching
 * alert once, in increasing seq order.  The wire protocol is documented in
 * the README ("Durable delivery"); this library is one implementation.
 *
 * Threads: a client is used from one thread at a time.  Errors: functions
 * return 0 (or a count) on success and -1 on error; naclient_errmsg() then
 * says why (lower-case, no full stop).
 */
#ifndef NACLIENT_H
#define NACLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NACLIENT_TRUNCATED 2 /* naclient_next: alerts were pruned before we got them */

struct naclient;

struct naclient_opts {
    const char *alerts_endpoint;  /* the matcher's PUB, e.g. tcp://127.0.0.1:5602 */
    const char *replay_endpoint;  /* the matcher's ROUTER, e.g. tcp://127.0.0.1:5603 */
    const char *const *topics;    /* topic prefixes; ntopics == 0: every alert */
    size_t ntopics;
    int64_t since;                /* -1: from now on; N >= 0: every alert with seq > N */
    const char *cursor_path;      /* NULL, or a file holding the position: read at start
                                     (it wins over `since` when it exists) and kept up to
                                     date as the application finishes alerts */
    int cursor_fsync;             /* 1: fsync the cursor file at each update (survives
                                     power loss); 0: rename only (survives a crash) */
    int replay_timeout_ms;        /* ask again after this long without a reply; 0: 3000 */
    int rcvhwm;                   /* SUB receive high-water mark; 0: ZeroMQ's default */
};

/* One alert.  topic and body are NUL-terminated and owned by the struct;
 * free them with naclient_alert_clear(). */
struct naclient_alert {
    int64_t seq;
    char *topic;
    char *body;   /* the alert JSON (README "Alert format") */
    size_t len;   /* strlen(body) */
};

struct naclient_stats {
    uint64_t live;       /* alerts taken from the live stream */
    uint64_t replayed;   /* alerts taken from replays */
    uint64_t duplicates; /* alerts received twice and dropped */
    uint64_t replays;    /* replay requests sent */
    uint64_t bad;        /* malformed messages dropped */
};

/* Connect.  Returns 0 and *out, or -1 with a message in errbuf (errlen
 * bytes, may be 0).  The options (strings included) are copied. */
int naclient_new(const struct naclient_opts *opts, struct naclient **out, char *errbuf,
                 size_t errlen);

/* Disconnect (writing the cursor file first).  NULL-safe; sets *pc to
 * NULL. */
void naclient_destroy(struct naclient **pc);

/* The next alert, waiting up to timeout_ms (-1: forever, 0: not at all).
 * Returns 1 with *out filled, 0 when nothing came in time, NACLIENT_TRUNCATED
 * once when alerts the client needed were pruned by the matcher's retention
 * (naclient_errmsg tells from where delivery resumes), -1 on an error
 * (naclient_errmsg; the client stays usable and keeps trying).  Calling it
 * marks the alert returned before as finished (see naclient_commit). */
int naclient_next(struct naclient *c, int timeout_ms, struct naclient_alert *out);

void naclient_alert_clear(struct naclient_alert *a);

/* The position: every matching alert with seq <= it has been returned and
 * finished.  -1 while unknown (from now on, before the first heartbeat). */
int64_t naclient_position(const struct naclient *c);

/* Mark the alert last returned as finished and write the cursor file now
 * (naclient_next and naclient_destroy do it too).  Returns 0 or -1. */
int naclient_commit(struct naclient *c);

/* The newest seq the matcher is known to have journaled (-1: unknown). */
int64_t naclient_head(const struct naclient *c);

const char *naclient_errmsg(const struct naclient *c);

void naclient_get_stats(const struct naclient *c, struct naclient_stats *out);

#ifdef __cplusplus
}
#endif

#endif

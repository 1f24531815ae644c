/*
 * sink.c - the notifier's sinks, one worker thread each (see sink.h).
 *
 * A worker loops: read the next alert of its stream, hand it to the sink,
 * record the cursor.  stdout/file/webhook/email handle one alert at a time
 * and retry a failed one (backoff doubling up to a limit) until it goes
 * through, is refused for good, or the notifier stops; exec runs up to
 * `concurrency` commands and advances its cursor over the longest prefix
 * of alerts whose commands have ended, so after a crash only commands
 * still running are run again.
 *
 * JSON lines: a valid JSON text can hold raw CR/LF only as whitespace
 * between tokens, so turning them into spaces keeps the body valid and makes
 * it one line.  Lines are written with one write(2) each so appends by
 * several writers do not interleave.
 *
 * Exec children run in their own process group (so a timeout kills the
 * whole shell pipeline), with the default signal dispositions and an empty
 * signal mask, their standard output sent to our standard error (stdout may
 * be a JSON-lines sink) and their standard input a pipe we fill without
 * blocking.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "cursor.h"
#include "log.h"
#include "remote.h"
#include "source.h"

#define SINK_POLL_MS 100      /* longest wait for the stream */
#define SINK_EXEC_POLL_MS 10  /* while commands run */
#define SINK_TAIL_MAX (2 * 1024 * 1024) /* bytes read back from a file sink */
#define SINK_EXEC_RING_PER_SLOT 2 /* started alerts kept per slot: bounds reruns */
#define SINK_QUEUE_MAX 1000   /* alerts read ahead of the sink */
#define SINK_PUMP_EVERY_MS 100 /* read the stream at least this often while busy */

extern char **environ;

struct exec_job {
    pid_t pid; /* 0 = free slot */
    int fd;    /* write end of the child's stdin, -1 when done */
    char *topic;
    char *data; /* body + "\n" */
    size_t len;
    size_t off;
    int64_t seq;
    int64_t deadline_ms;
    int64_t kill_ms;
    int term_sent; /* 0, 1 = SIGTERM sent, 2 = SIGKILL sent */
};

/* An alert read from the stream, waiting for the sink. */
struct sink_alert {
    char *topic;
    char *body;
    int64_t seq;
};

/* exec: alerts started, in seq order, until every earlier one is done */
struct exec_mark {
    int64_t seq;
    int done;
};

struct sink {
    const struct sink_conf *conf;
    const struct config *cfg;
    struct sinkset *set;
    struct source *src;     /* NULL while detached (queue full) */
    char *const *topics;    /* the stream's topic prefixes */
    size_t ntopics;
    struct sink_alert *queue; /* ring of SINK_QUEUE_MAX, read ahead */
    size_t qhead, qlen;
    int64_t last_read;      /* seq of the last alert queued (or the start) */
    int64_t last_pump_ms;
    unsigned long bad_before; /* bad messages of streams closed before */
    unsigned long bad_logged; /* bad messages reported so far */
    struct remote *remote;
    pthread_t thread;
    int started;
    int fd;           /* file sink */
    int text;         /* stdout sink: readable text rather than JSON */
    int write_failed; /* last write (exec: start) failed: log only the first of a run */
    int64_t cursor;   /* last alert done with; -1 = none yet */
    atomic_int reopen;
    struct exec_job *jobs; /* exec: conf->concurrency slots */
    size_t njobs;
    struct exec_mark *ring; /* exec: started alerts not yet under the cursor */
    size_t ring_cap, ring_head, ring_len;
    struct sinkset_stats stats; /* the worker's own; read after the join */
};

struct sinkset {
    const struct config *cfg;
    struct cursors *cursors;
    struct sink *sinks;
    size_t nsinks;
    atomic_int stop;
    int grace_ms;
};

static int64_t sink_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *sink_name(const struct sink *s)
{
    return s->conf->name;
}

/* --- the stream and the read-ahead queue -------------------------------------
 *
 * A sink reads its stream all the time, also while it waits for a command,
 * a transfer or a backoff, and queues what it reads: a ZeroMQ socket left
 * unread fills up, and with ZMTP heartbeats on, a stalled connection is
 * dropped and libzmq may abort (zeromq/libzmq#3937).  When the queue is
 * full the sink closes its stream; once the queue is half empty it opens a
 * new one after the last alert it queued, and the journal replays the
 * rest.  So a sink that is down for hours costs no memory and loses
 * nothing. */

static void sink_queue_pop(struct sink *s, struct sink_alert *out)
{
    *out = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % SINK_QUEUE_MAX;
    s->qlen--;
}

/* Read what the stream has (waiting at most wait_ms for the first alert)
 * into the queue; detach or re-attach the stream as the queue fills or
 * empties. */
static void sink_pump(struct sink *s, int wait_ms)
{
    s->last_pump_ms = sink_now_ms();
    if (s->src == NULL) {
        na_error err;

        if (s->qlen > SINK_QUEUE_MAX / 2) {
            if (wait_ms > 0)
                nanosleep(&(struct timespec){0, (long)wait_ms * 1000000L}, NULL);
            return;
        }
        na_error_clear(&err);
        if (source_open(s->cfg, sink_name(s), s->topics, s->ntopics, s->last_read,
                        &s->src, &err) != 0) {
            log_error("%s", err.msg);
            if (wait_ms > 0)
                nanosleep(&(struct timespec){0, (long)wait_ms * 1000000L}, NULL);
            return;
        }
        log_debug("sink %s: stream re-attached after alert %" PRId64, sink_name(s),
                  s->last_read);
    }
    while (s->qlen < SINK_QUEUE_MAX) {
        struct sink_alert a;
        int rc = source_next(s->src, wait_ms, &a.topic, &a.body, &a.seq);

        if (rc != 1)
            break;
        wait_ms = 0;
        if (a.seq <= s->last_read && s->last_read >= 0) { /* the new stream's overlap */
            free(a.topic);
            free(a.body);
            continue;
        }
        s->last_read = a.seq;
        s->queue[(s->qhead + s->qlen) % SINK_QUEUE_MAX] = a;
        s->qlen++;
    }
    if (s->last_read < 0 && s->qlen == 0)
        s->last_read = source_position(s->src); /* "now" became known */
    if (s->bad_before + source_bad(s->src) > s->bad_logged) {
        s->bad_logged = s->bad_before + source_bad(s->src);
        log_warn("sink %s: %lu bad messages dropped from its stream so far", sink_name(s),
                 s->bad_logged);
    }
    if (s->qlen >= SINK_QUEUE_MAX) {
        log_debug("sink %s: %d alerts queued, stream detached after alert %" PRId64,
                  sink_name(s), SINK_QUEUE_MAX, s->last_read);
        s->bad_before += source_bad(s->src);
        source_free(&s->src);
    }
}

/* Called while the sink is busy: keep the stream read. */
static void sink_busy(void *arg)
{
    struct sink *s = arg;

    if (sink_now_ms() - s->last_pump_ms >= SINK_PUMP_EVERY_MS)
        sink_pump(s, 0);
}

/* Sleep ms, in slices, unless the set is stopping.  Returns 1 when the
 * whole delay passed, 0 when stopped. */
static int sink_sleep(struct sink *s, int64_t ms)
{
    int64_t end = sink_now_ms() + ms;

    while (!atomic_load(&s->set->stop)) {
        int64_t left = end - sink_now_ms();

        if (left <= 0)
            return 1;
        if (left > 50)
            left = 50;
        sink_pump(s, (int)left); /* sleeps while reading the stream */
    }
    return 0;
}

/* A copy of body as one line ending in "\n" (CR/LF inside become spaces). */
static char *sink_json_line(const char *body, size_t len, size_t *out_len)
{
    char *line = malloc(len + 2);

    if (line == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        line[i] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
    line[len] = '\n';
    line[len + 1] = '\0';
    *out_len = len + 1;
    return line;
}

/* Write all of buf to fd, retrying on EINTR and short writes.  Returns 0 or
 * -1 with errno. */
static int sink_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int sink_prefixed(const char *topic, char *const *prefixes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strncmp(topic, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    }
    return 0;
}

/* Both the notifier's topics and the sink's own. */
static int sink_wants(const struct sink *s, const char *topic)
{
    if (!sink_prefixed(topic, s->cfg->notifier.topics, s->cfg->notifier.ntopics))
        return 0;
    return s->conf->topics == NULL || sink_prefixed(topic, s->conf->topics, s->conf->ntopics);
}

static int sink_open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* The cursor moves to seq (memory and database). */
static void sink_advance(struct sink *s, int64_t seq)
{
    if (seq <= s->cursor)
        return;
    s->cursor = seq;
    cursors_set(s->set->cursors, sink_name(s), seq);
}

/* --- file sinks: what the file already holds ------------------------------ */

/* The seq of the last complete line of the file at path.  A last line
 * without its newline (a write torn by a crash) is cut off.  Returns 1 and
 * *seq, 0 when the file is missing, empty or its last line has no seq, -1
 * on an I/O error (*err set). */
static int sink_file_tail(const char *path, const char *name, int64_t *seq, na_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    off_t start, end, nl = -1;
    char *buf = NULL;
    ssize_t n;
    int rc = 0;

    if (fd < 0)
        return errno == ENOENT ? 0 : na_error_set(err, 0, 0, "sink %s: cannot open '%s': %s",
                                                  name, path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        goto out;
    end = st.st_size;
    start = end > SINK_TAIL_MAX ? end - SINK_TAIL_MAX : 0;
    if ((buf = malloc((size_t)(end - start))) == NULL) {
        rc = na_error_set(err, 0, 0, "out of memory");
        goto out;
    }
    n = pread(fd, buf, (size_t)(end - start), start);
    if (n != end - start) {
        rc = na_error_set(err, 0, 0, "sink %s: cannot read '%s': %s", name, path,
                          n < 0 ? strerror(errno) : "short read");
        goto out;
    }
    for (off_t i = n - 1; i >= 0; i--) {
        if (buf[i] == '\n') {
            nl = i;
            break;
        }
    }
    if (nl != n - 1) {
        /* a torn last line: cut it, its alert is written again */
        off_t keep = nl >= 0 ? start + nl + 1 : start;

        log_warn("sink %s: '%s' ends with an incomplete line (%lld bytes), cut off",
                 name, path, (long long)(end - keep));
        if (ftruncate(fd, keep) != 0) {
            rc = na_error_set(err, 0, 0, "sink %s: cannot truncate '%s': %s", name, path,
                              strerror(errno));
            goto out;
        }
    }
    if (nl >= 0) {
        off_t b = nl;

        while (b > 0 && buf[b - 1] != '\n')
            b--;
        if (alert_seq(buf + b, (size_t)(nl - b), seq) == 0)
            rc = 1;
    }
out:
    free(buf);
    close(fd);
    return rc;
}

/* --- stdout and file ------------------------------------------------------ */

static void sink_report(struct sink *s, int ok, const char *what)
{
    if (ok) {
        if (s->write_failed)
            log_info("sink %s: %s works again", sink_name(s), what);
        s->write_failed = 0;
        return;
    }
    if (!s->write_failed)
        log_error("sink %s: cannot write %s: %s (retrying)", sink_name(s), what,
                  strerror(errno));
    s->write_failed = 1;
}

/* One attempt at the stdout or file sink.  Returns 1 when written. */
static int sink_write_local(struct sink *s, const char *body, size_t len)
{
    char *out = NULL;
    size_t n = 0;
    int ok;

    if (s->conf->type == SINK_STDOUT && s->text) {
        char *text = alert_render_text(body, len);

        if (text != NULL) {
            n = strlen(text);
            if ((out = malloc(n + 2)) != NULL) {
                memcpy(out, text, n);
                out[n++] = '\n';
                out[n] = '\0';
            }
            free(text);
        }
        /* else out of memory: the stream let through only JSON objects
         * (source.h), which alert_render_text always renders */
    } else {
        out = sink_json_line(body, len, &n);
    }
    if (out == NULL) {
        errno = ENOMEM;
        ok = 0;
    } else if (s->conf->type == SINK_STDOUT) {
        ok = fwrite(out, 1, n, stdout) == n && fflush(stdout) == 0;
        if (!ok)
            clearerr(stdout);
    } else {
        if (atomic_exchange(&s->reopen, 0)) {
            int fd = sink_open_file(s->conf->path);

            if (fd < 0) {
                log_error("sink %s: cannot reopen '%s': %s; still writing to the old file",
                          sink_name(s), s->conf->path, strerror(errno));
            } else {
                if (s->fd >= 0)
                    close(s->fd);
                s->fd = fd;
                log_info("sink %s: reopened '%s'", sink_name(s), s->conf->path);
            }
        }
        if (s->fd < 0 && (s->fd = sink_open_file(s->conf->path)) < 0) {
            ok = 0;
        } else {
            struct stat st;
            int have = fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);

            ok = sink_write_all(s->fd, out, n) == 0;
            if (!ok && have) { /* no torn line before the retry */
                int e = errno;

                if (ftruncate(s->fd, st.st_size) != 0)
                    log_debug("sink %s: cannot cut the torn line: %s", sink_name(s),
                              strerror(errno));
                errno = e;
            }
        }
    }
    sink_report(s, ok, s->conf->type == SINK_STDOUT ? "standard output" : s->conf->path);
    free(out);
    return ok;
}

/* Deliver to stdout/file, retrying until written or stopped.  Returns 1
 * when done with the alert, 0 when stopped. */
static int sink_deliver_local(struct sink *s, const char *body, size_t len)
{
    int64_t delay = SINK_LOCAL_RETRY_MS;

    while (!sink_write_local(s, body, len)) {
        s->stats.retries++;
        if (!sink_sleep(s, delay))
            return 0;
        delay *= 2;
        if (delay > SINK_LOCAL_RETRY_MAX_S * 1000)
            delay = SINK_LOCAL_RETRY_MAX_S * 1000;
    }
    s->stats.delivered++;
    return 1;
}

/* --- webhook and email ------------------------------------------------------ */

/* Returns 1 when done with the alert (delivered or given up), 0 when
 * stopped. */
static int sink_deliver_remote(struct sink *s, const char *topic, const char *body, size_t len,
                               int64_t seq)
{
    const struct sink_conf *c = s->conf;
    int64_t delay = c->retry_initial_ms;
    int attempt = 0;

    for (;;) {
        char why[512];
        long after = 0;
        int64_t wait;
        enum remote_outcome out = remote_attempt(s->remote, topic, body, len, seq, &after, why,
                                                 sizeof(why));

        attempt++;
        switch (out) {
        case REMOTE_OK:
            if (attempt > 1)
                log_info("sink %s: alert %" PRId64 " delivered at attempt %d", sink_name(s),
                         seq, attempt);
            s->stats.delivered++;
            return 1;
        case REMOTE_ABORTED:
            return 0;
        case REMOTE_FAIL:
            log_error("sink %s: alert %" PRId64 " for rule %s given up: %s", sink_name(s), seq,
                      topic, why);
            s->stats.failures++;
            return 1;
        case REMOTE_RETRY:
            break;
        }
        if (c->max_attempts > 0 && attempt >= c->max_attempts) {
            log_error("sink %s: alert %" PRId64 " for rule %s given up after %d attempts: %s",
                      sink_name(s), seq, topic, attempt, why);
            s->stats.failures++;
            return 1;
        }
        s->stats.retries++;
        wait = delay;
        if (after > 0 && after * 1000LL > wait)
            wait = after > 24 * 3600 ? 24 * 3600 * 1000LL : after * 1000LL;
        log_warn("sink %s: alert %" PRId64 ": %s; attempt %d failed, next in %.2f s",
                 sink_name(s), seq, why, attempt, (double)wait / 1000.0);
        if (!sink_sleep(s, wait))
            return 0;
        delay *= 2;
        if (delay > c->retry_max_s * 1000LL)
            delay = c->retry_max_s * 1000LL;
    }
}

/* --- exec ------------------------------------------------------------------ */

/* environ without NEWSALERT_RULE_ID/NEWSALERT_SEQ, plus ours.  The strings
 * are borrowed except the two added, which the caller frees as env[0], env[1]. */
static char **exec_env(const char *topic, int64_t seq)
{
    size_t n = 0, k = 2;
    char **env;
    char *rid, *sq;
    size_t rlen = strlen(topic) + sizeof("NEWSALERT_RULE_ID=");

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + 3, sizeof(*env));
    rid = malloc(rlen);
    sq = malloc(64);
    if (env == NULL || rid == NULL || sq == NULL) {
        free(env);
        free(rid);
        free(sq);
        return NULL;
    }
    snprintf(rid, rlen, "NEWSALERT_RULE_ID=%s", topic);
    snprintf(sq, 64, "NEWSALERT_SEQ=%" PRId64, seq);
    env[0] = rid;
    env[1] = sq;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "NEWSALERT_RULE_ID=", 18) == 0 ||
            strncmp(environ[i], "NEWSALERT_SEQ=", 14) == 0)
            continue;
        env[k++] = environ[i];
    }
    env[k] = NULL;
    return env;
}

static void exec_job_clear(struct exec_job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    free(j->topic);
    free(j->data);
    memset(j, 0, sizeof(*j));
    j->fd = -1;
}

/* Try to write the rest of the job's input; close the pipe when done or
 * when the child stopped reading. */
static void exec_feed(struct sink *s, struct exec_job *j)
{
    while (j->fd >= 0 && j->off < j->len) {
        ssize_t n = write(j->fd, j->data + j->off, j->len - j->off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            log_debug("sink %s: child %ld stopped reading its input: %s", sink_name(s),
                      (long)j->pid, strerror(errno));
            break;
        }
        j->off += (size_t)n;
    }
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
}

/* The alert `seq` is done: mark it and move the cursor over the done
 * prefix of the ring. */
static void exec_done(struct sink *s, int64_t seq)
{
    for (size_t i = 0; i < s->ring_len; i++) {
        struct exec_mark *m = &s->ring[(s->ring_head + i) % s->ring_cap];

        if (m->seq == seq)
            m->done = 1;
    }
    while (s->ring_len > 0 && s->ring[s->ring_head].done) {
        sink_advance(s, s->ring[s->ring_head].seq);
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_len--;
    }
}

/* Start a command for the alert.  Returns 0 when it runs, -1 when it could
 * not be started (no pipe, no memory, no process: logged once per run of
 * failures): the alert is then not marked at all, and the caller tries
 * again later. */
static int exec_start(struct sink *s, const char *topic, const char *body, size_t len,
                      int64_t seq)
{
    static const char *const sh = "/bin/sh";
    struct exec_job *j = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def, none;
    char **env = NULL;
    char *argv[] = {(char *)"sh", (char *)"-c", s->conf->command, NULL};
    int fds[2] = {-1, -1};
    pid_t pid;
    int rc;

    for (size_t i = 0; i < (size_t)s->conf->concurrency; i++) {
        if (s->jobs[i].pid == 0) {
            j = &s->jobs[i];
            break;
        }
    }
    if (j == NULL || pipe(fds) != 0 || (env = exec_env(topic, seq)) == NULL) {
        if (!s->write_failed)
            log_error("sink %s: cannot start the command for alert %" PRId64 ": %s (retrying)",
                      sink_name(s), seq, j == NULL ? "no free slot" : strerror(errno));
        goto fail;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    if ((j->topic = strdup(topic)) == NULL ||
        (j->data = sink_json_line(body, len, &j->len)) == NULL) {
        if (!s->write_failed)
            log_error("sink %s: out of memory for alert %" PRId64 " (retrying)", sink_name(s),
                      seq);
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &none);
    rc = posix_spawn(&pid, sh, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        if (!s->write_failed)
            log_error("sink %s: cannot run %s for alert %" PRId64 ": %s (retrying)",
                      sink_name(s), sh, seq, strerror(rc));
        goto fail;
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    free(env[0]);
    free(env[1]);
    free(env);
    j->pid = pid;
    j->fd = fds[1];
    j->off = 0;
    j->seq = seq;
    j->deadline_ms = sink_now_ms() + (int64_t)s->conf->timeout_s * 1000;
    j->kill_ms = 0;
    j->term_sent = 0;
    s->njobs++;
    s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = (struct exec_mark){seq, 0};
    s->ring_len++;
    if (s->write_failed)
        log_info("sink %s: commands start again", sink_name(s));
    s->write_failed = 0;
    log_debug("sink %s: started child %ld for alert %" PRId64, sink_name(s), (long)pid, seq);
    exec_feed(s, j);
    return 0;
fail:
    s->write_failed = 1;
    if (fds[0] >= 0)
        close(fds[0]);
    if (j != NULL) {
        j->fd = fds[1];
        exec_job_clear(j);
    } else if (fds[1] >= 0) {
        close(fds[1]);
    }
    if (env != NULL) {
        free(env[0]);
        free(env[1]);
        free(env);
    }
    return -1;
}


/* Reap, time out and feed the jobs.  With `finish` 0, a job that ended
 * moves the cursor; with `finish` 1 (shutdown), killed jobs do not. */
static void exec_tick(struct sink *s, int finish)
{
    int64_t now = sink_now_ms();

    for (size_t i = 0; i < (size_t)s->conf->concurrency; i++) {
        struct exec_job *j = &s->jobs[i];
        int status, counted = 1;
        pid_t r;

        if (j->pid == 0)
            continue;
        exec_feed(s, j);
        r = waitpid(j->pid, &status, WNOHANG);
        if (r == j->pid || (r < 0 && errno == ECHILD)) {
            int64_t seq = j->seq;

            if (r < 0) {
                log_error("sink %s: lost child %ld", sink_name(s), (long)j->pid);
            } else if (j->term_sent) {
                s->stats.failures++;
                counted = !finish;
                log_warn("sink %s: command '%s' timed out after %ds and was killed "
                         "(rule %s, alert %" PRId64 ")",
                         sink_name(s), s->conf->command, s->conf->timeout_s, j->topic, seq);
            } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                s->stats.failures++;
                log_warn("sink %s: command '%s' exited with status %d (rule %s, alert %" PRId64
                         ")",
                         sink_name(s), s->conf->command, WEXITSTATUS(status), j->topic, seq);
            } else if (WIFSIGNALED(status)) {
                s->stats.failures++;
                log_warn("sink %s: command '%s' killed by signal %d (rule %s, alert %" PRId64
                         ")",
                         sink_name(s), s->conf->command, WTERMSIG(status), j->topic, seq);
            } else {
                s->stats.delivered++;
            }
            exec_job_clear(j);
            s->njobs--;
            if (counted)
                exec_done(s, seq);
            continue;
        }
        if (j->term_sent == 0 && now >= j->deadline_ms) {
            kill(-j->pid, SIGTERM);
            j->term_sent = 1;
            j->kill_ms = now + SINK_EXEC_KILL_GRACE_MS;
            if (j->fd >= 0) {
                close(j->fd);
                j->fd = -1;
            }
        } else if (j->term_sent == 1 && now >= j->kill_ms) {
            kill(-j->pid, SIGKILL);
            j->term_sent = 2;
        }
    }
}

/* Shutdown: wait at most grace_ms for the commands, then kill and reap
 * the rest (their alerts stay above the cursor: run again next time). */
static void exec_finish(struct sink *s, int grace_ms)
{
    int64_t end = sink_now_ms() + grace_ms;

    while (s->njobs > 0 && sink_now_ms() < end) {
        exec_tick(s, 0);
        if (s->njobs > 0)
            nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    if (s->njobs > 0)
        log_warn("sink %s: killing %zu commands still running at shutdown (their alerts run "
                 "again at the next start)", sink_name(s), s->njobs);
    for (size_t i = 0; i < (size_t)s->conf->concurrency; i++) {
        struct exec_job *j = &s->jobs[i];

        if (j->pid == 0)
            continue;
        kill(-j->pid, SIGKILL);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        exec_job_clear(j);
        s->njobs--;
    }
}

/* Start the command for the alert, retrying (with the local sinks'
 * backoff, reaping and feeding the running commands meanwhile) until it
 * runs or the set stops.  Returns 1 when started, 0 when stopped (the
 * cursor stays before the alert). */
static int exec_deliver(struct sink *s, const char *topic, const char *body, size_t len,
                        int64_t seq)
{
    int64_t delay = SINK_LOCAL_RETRY_MS;

    while (exec_start(s, topic, body, len, seq) != 0) {
        s->stats.retries++;
        for (int64_t end = sink_now_ms() + delay; sink_now_ms() < end;) {
            exec_tick(s, 0);
            if (!sink_sleep(s, SINK_EXEC_POLL_MS))
                return 0;
        }
        delay *= 2;
        if (delay > SINK_LOCAL_RETRY_MAX_S * 1000)
            delay = SINK_LOCAL_RETRY_MAX_S * 1000;
    }
    return 1;
}

/* --- the worker ------------------------------------------------------------- */

/* Handle one alert from the stream.  Returns 0 normally, -1 when stopped
 * in the middle (the cursor stays before the alert). */
static int sink_handle(struct sink *s, const char *topic, const char *body, int64_t seq)
{
    size_t len = strlen(body);

    if (seq <= s->cursor) {
        s->stats.duplicates++;
        log_debug("sink %s: alert %" PRId64 " already done (cursor %" PRId64 ")", sink_name(s),
                  seq, s->cursor);
        return 0;
    }
    if (!sink_wants(s, topic)) {
        if (s->conf->type == SINK_EXEC) { /* not past commands still running */
            s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = (struct exec_mark){seq, 1};
            s->ring_len++;
            exec_done(s, seq);
        } else {
            sink_advance(s, seq);
        }
        return 0;
    }
    switch (s->conf->type) {
    case SINK_STDOUT:
    case SINK_FILE:
        if (!sink_deliver_local(s, body, len))
            return -1;
        sink_advance(s, seq);
        break;
    case SINK_WEBHOOK:
    case SINK_EMAIL:
        if (!sink_deliver_remote(s, topic, body, len, seq))
            return -1;
        sink_advance(s, seq);
        break;
    case SINK_EXEC:
        if (!exec_deliver(s, topic, body, len, seq))
            return -1;
        break;
    }
    return 0;
}

static void *sink_main(void *arg)
{
    struct sink *s = arg;
    int exec = s->conf->type == SINK_EXEC;

    while (!atomic_load(&s->set->stop)) {
        struct sink_alert a;
        int rc;

        if (exec) {
            exec_tick(s, 0);
            if (s->qlen == 0 || s->njobs >= (size_t)s->conf->concurrency ||
                s->ring_len >= s->ring_cap) {
                sink_pump(s, s->njobs > 0 ? SINK_EXEC_POLL_MS : SINK_POLL_MS);
                continue;
            }
        } else if (s->qlen == 0) {
            sink_pump(s, SINK_POLL_MS);
        }
        if (s->cursor < 0 && s->last_read >= 0 && s->ring_len == 0 && s->qlen == 0) {
            /* "start": "now": keep where "now" was, so that a restart
             * resumes there */
            sink_advance(s, s->last_read);
        }
        if (s->qlen == 0)
            continue;
        sink_queue_pop(s, &a);
        rc = sink_handle(s, a.topic, a.body, a.seq);
        free(a.topic);
        free(a.body);
        if (rc < 0)
            break;
    }
    if (exec)
        exec_finish(s, s->set->grace_ms);
    return NULL;
}

/* --- the set --------------------------------------------------------------- */

/* Where sink s starts: its cursor, or the file's last line, or the
 * configured start.  Returns the seq to read after (-1: from now on), or
 * -2 with *err. */
static int64_t sink_resume(struct sinkset *set, struct sink *s, na_error *err)
{
    int64_t cur = -1, last;
    int rc = cursors_get(set->cursors, sink_name(s), &cur);

    if (rc < 0) {
        na_error_set(err, 0, 0, "sink %s: cannot read its cursor", sink_name(s));
        return -2;
    }
    if (rc == 0)
        cur = s->conf->start == SINK_START_OLDEST ? 0 : -1;
    if (s->conf->type == SINK_FILE) {
        rc = sink_file_tail(s->conf->path, sink_name(s), &last, err);
        if (rc < 0)
            return -2;
        if (rc == 1 && last > cur) {
            log_info("sink %s: '%s' already holds alert %" PRId64 " (cursor %" PRId64
                     "), resuming after it",
                     sink_name(s), s->conf->path, last, cur);
            cur = last;
            cursors_set(set->cursors, sink_name(s), cur);
        }
    }
    return cur;
}

int sinkset_open(const struct config *cfg, struct sinkset **out, na_error *err)
{
    struct sinkset *set = calloc(1, sizeof(*set));

    *out = NULL;
    if (set == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    set->cfg = cfg;
    atomic_init(&set->stop, 0);
    set->sinks = calloc(cfg->notifier.nsinks + 1, sizeof(*set->sinks));
    if (set->sinks == NULL) {
        free(set);
        return na_error_set(err, 0, 0, "out of memory");
    }
    if (cursors_open(cfg->state_dir, &set->cursors, err) != 0)
        goto fail;
    for (size_t i = 0; i < cfg->notifier.nsinks; i++) {
        const struct sink_conf *c = &cfg->notifier.sinks[i];
        struct sink *s = &set->sinks[i];
        char *const *topics = c->topics != NULL ? c->topics : cfg->notifier.topics;
        size_t ntopics = c->topics != NULL ? c->ntopics : cfg->notifier.ntopics;
        int64_t after;

        s->conf = c;
        s->cfg = cfg;
        s->set = set;
        s->fd = -1;
        s->topics = topics;
        s->ntopics = ntopics;
        if ((s->queue = calloc(SINK_QUEUE_MAX, sizeof(*s->queue))) == NULL) {
            na_error_set(err, 0, 0, "out of memory");
            goto fail;
        }
        atomic_init(&s->reopen, 0);
        set->nsinks++;
        switch (c->type) {
        case SINK_STDOUT:
            s->text = c->format == SINK_FORMAT_TEXT ||
                      (c->format == SINK_FORMAT_AUTO && isatty(STDOUT_FILENO));
            break;
        case SINK_FILE:
            break;
        case SINK_EXEC:
            if (c->command == NULL || c->concurrency < 1 || c->timeout_s < 1) {
                na_error_set(err, 0, 0, "sink %s: needs a command, concurrency >= 1 and "
                             "timeout_s >= 1", sink_name(s));
                goto fail;
            }
            s->ring_cap = (size_t)c->concurrency * SINK_EXEC_RING_PER_SLOT;
            s->jobs = calloc((size_t)c->concurrency, sizeof(*s->jobs));
            s->ring = calloc(s->ring_cap, sizeof(*s->ring));
            if (s->jobs == NULL || s->ring == NULL) {
                na_error_set(err, 0, 0, "out of memory");
                goto fail;
            }
            for (size_t k = 0; k < (size_t)c->concurrency; k++)
                s->jobs[k].fd = -1;
            break;
        case SINK_WEBHOOK:
        case SINK_EMAIL:
            if ((s->remote = remote_new(c, &set->stop, sink_busy, s)) == NULL) {
                na_error_set(err, 0, 0, "sink %s: cannot set up libcurl", sink_name(s));
                goto fail;
            }
            break;
        }
        if ((after = sink_resume(set, s, err)) < -1)
            goto fail;
        s->cursor = after;
        s->last_read = after;
        if (c->type == SINK_FILE && (s->fd = sink_open_file(c->path)) < 0) {
            na_error_set(err, 0, 0, "sink %s: cannot open '%s': %s", sink_name(s), c->path,
                         strerror(errno));
            goto fail;
        }
        if (source_open(cfg, sink_name(s), topics, ntopics, after, &s->src, err) != 0)
            goto fail;
        log_info("sink %s: resuming after alert %" PRId64 "%s", sink_name(s), after,
                 after < 0 ? " (from now on)" : "");
    }
    *out = set;
    return 0;
fail:
    sinkset_free(&set);
    return -1;
}

int sinkset_start(struct sinkset *set, na_error *err)
{
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];
        int rc = pthread_create(&s->thread, NULL, sink_main, s);

        if (rc != 0)
            return na_error_set(err, 0, 0, "sink %s: cannot start its thread: %s",
                                sink_name(s), strerror(rc));
        s->started = 1;
    }
    return 0;
}

void sinkset_reopen(struct sinkset *set)
{
    for (size_t i = 0; i < set->nsinks; i++)
        atomic_store(&set->sinks[i].reopen, 1);
}

void sinkset_stop(struct sinkset *set, int grace_ms)
{
    set->grace_ms = grace_ms;
    atomic_store(&set->stop, 1);
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];

        if (s->started) {
            pthread_join(s->thread, NULL);
            s->started = 0;
        }
    }
}

void sinkset_get_stats(const struct sinkset *set, struct sinkset_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < set->nsinks; i++) {
        const struct sink *s = &set->sinks[i];

        out->delivered += s->stats.delivered;
        out->failures += s->stats.failures;
        out->retries += s->stats.retries;
        out->duplicates += s->stats.duplicates;
        out->bad += s->bad_before + (s->src != NULL ? source_bad(s->src) : 0);
    }
}

void sinkset_free(struct sinkset **pset)
{
    struct sinkset *set = *pset;

    if (set == NULL)
        return;
    sinkset_stop(set, 0);
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];

        if (s->jobs != NULL)
            exec_finish(s, 0);
        if (s->fd >= 0)
            close(s->fd);
        source_free(&s->src);
        remote_free(&s->remote);
        while (s->queue != NULL && s->qlen > 0) {
            struct sink_alert a;

            sink_queue_pop(s, &a);
            free(a.topic);
            free(a.body);
        }
        free(s->queue);
        free(s->jobs);
        free(s->ring);
    }
    cursors_close(&set->cursors);
    free(set->sinks);
    free(set);
    *pset = NULL;
}

/*
 * sink.c - delivery of alerts to stdout, files and commands (see sink.h).
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
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"

extern char **environ;

struct exec_alert {
    char *topic;
    char *data; /* body + "\n" */
    size_t len;
    int64_t seq;
};

struct exec_job {
    pid_t pid; /* 0 = free slot */
    int fd;    /* write end of the child's stdin, -1 when done */
    struct exec_alert a;
    size_t off;
    int64_t deadline_ms;
    int64_t kill_ms;
    int term_sent; /* 0, 1 = SIGTERM sent, 2 = SIGKILL sent */
};

struct sink {
    const struct sink_conf *conf;
    int fd;   /* file sink */
    int text; /* stdout sink: readable text rather than JSON */
    int write_failed; /* last write failed: log only the first of a run */
    struct exec_job *jobs; /* exec: conf->concurrency slots */
    size_t njobs;          /* running */
    struct exec_alert *queue; /* exec: ring of SINK_EXEC_QUEUE_MAX */
    size_t qhead, qlen;
};

struct sinkset {
    struct sink *sinks;
    size_t nsinks;
    int64_t last_seq; /* -1 before the first alert */
    struct sinkset_stats stats;
};

static int64_t sink_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int sink_wants(const struct sink *s, const char *topic)
{
    if (s->conf->topics == NULL)
        return 1;
    for (size_t i = 0; i < s->conf->ntopics; i++) {
        if (strncmp(topic, s->conf->topics[i], strlen(s->conf->topics[i])) == 0)
            return 1;
    }
    return 0;
}

static const char *sink_name(const struct sink *s)
{
    return s->conf->name != NULL ? s->conf->name : "sink";
}

static int sink_open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* A pipe whose two ends are closed on exec.  Returns 0 or -1. */
static int sink_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

static void exec_alert_free(struct exec_alert *a)
{
    free(a->topic);
    free(a->data);
    a->topic = NULL;
    a->data = NULL;
}

/* --- stdout and file ------------------------------------------------------ */

static void sink_report(struct sinkset *set, struct sink *s, int ok, const char *what)
{
    if (ok) {
        if (s->write_failed)
            log_info("sink %s: %s works again", sink_name(s), what);
        s->write_failed = 0;
        return;
    }
    set->stats.failures++;
    if (!s->write_failed)
        log_error("sink %s: cannot write %s: %s", sink_name(s), what, strerror(errno));
    s->write_failed = 1;
}

static void sink_deliver_stdout(struct sinkset *set, struct sink *s, const char *body,
                                size_t len)
{
    char *out = NULL;
    size_t n = 0;
    int ok;

    if (s->text) {
        char *text = alert_render_text(body, len);

        if (text != NULL) {
            n = strlen(text);
            out = malloc(n + 2);
            if (out != NULL) {
                memcpy(out, text, n);
                out[n++] = '\n';
                out[n] = '\0';
            }
            free(text);
        } else {
            out = strdup("(unreadable alert)\n");
            n = out != NULL ? strlen(out) : 0;
        }
    } else {
        out = sink_json_line(body, len, &n);
    }
    if (out == NULL) {
        errno = ENOMEM;
        sink_report(set, s, 0, "standard output");
        return;
    }
    ok = fwrite(out, 1, n, stdout) == n && fflush(stdout) == 0;
    if (!ok)
        clearerr(stdout);
    sink_report(set, s, ok, "standard output");
    free(out);
}

static void sink_deliver_file(struct sinkset *set, struct sink *s, const char *body, size_t len)
{
    size_t n;
    char *line = sink_json_line(body, len, &n);
    int ok;

    if (line == NULL) {
        errno = ENOMEM;
        sink_report(set, s, 0, s->conf->path);
        return;
    }
    ok = s->fd >= 0 && sink_write_all(s->fd, line, n) == 0;
    if (s->fd < 0)
        errno = EBADF;
    sink_report(set, s, ok, s->conf->path);
    free(line);
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

/* Try to write the rest of the job's input; close the pipe when done or
 * when the child stopped reading. */
static void exec_feed(struct sink *s, struct exec_job *j)
{
    while (j->fd >= 0 && j->off < j->a.len) {
        ssize_t n = write(j->fd, j->a.data + j->off, j->a.len - j->off);

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

/* Start a command for alert *a (taken over).  Returns 0, or -1 (logged,
 * alert freed). */
static int exec_start(struct sinkset *set, struct sink *s, struct exec_alert *a)
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
    if (j == NULL || sink_pipe(fds) != 0 || (env = exec_env(a->topic, a->seq)) == NULL) {
        log_error("sink %s: cannot start the command for alert %" PRId64 ": %s", sink_name(s),
                  a->seq, j == NULL ? "no free slot" : strerror(errno));
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
        log_error("sink %s: cannot run %s: %s", sink_name(s), sh, strerror(rc));
        goto fail;
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    free(env[0]);
    free(env[1]);
    free(env);
    j->pid = pid;
    j->fd = fds[1];
    j->a = *a;
    j->off = 0;
    j->deadline_ms = sink_now_ms() + (int64_t)s->conf->timeout_s * 1000;
    j->kill_ms = 0;
    j->term_sent = 0;
    s->njobs++;
    log_debug("sink %s: started child %ld for alert %" PRId64, sink_name(s), (long)pid, a->seq);
    exec_feed(s, j);
    return 0;
fail:
    set->stats.failures++;
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (env != NULL) {
        free(env[0]);
        free(env[1]);
        free(env);
    }
    exec_alert_free(a);
    return -1;
}

static void exec_enqueue(struct sinkset *set, struct sink *s, struct exec_alert *a)
{
    if (s->qlen == SINK_EXEC_QUEUE_MAX) {
        struct exec_alert *old = &s->queue[s->qhead];

        log_warn("sink %s: queue full (%d alerts waiting), dropped alert %" PRId64
                 " for rule %s",
                 sink_name(s), SINK_EXEC_QUEUE_MAX, old->seq, old->topic);
        exec_alert_free(old);
        s->qhead = (s->qhead + 1) % SINK_EXEC_QUEUE_MAX;
        s->qlen--;
        set->stats.dropped++;
    }
    s->queue[(s->qhead + s->qlen) % SINK_EXEC_QUEUE_MAX] = *a;
    s->qlen++;
}

static void sink_deliver_exec(struct sinkset *set, struct sink *s, const char *topic,
                              const char *body, size_t len, int64_t seq)
{
    struct exec_alert a = {0};

    a.seq = seq;
    a.topic = strdup(topic);
    a.data = sink_json_line(body, len, &a.len);
    if (a.topic == NULL || a.data == NULL) {
        log_error("sink %s: out of memory, alert %" PRId64 " dropped", sink_name(s), seq);
        set->stats.failures++;
        exec_alert_free(&a);
        return;
    }
    if (s->njobs < (size_t)s->conf->concurrency && s->qlen == 0)
        exec_start(set, s, &a);
    else
        exec_enqueue(set, s, &a);
}

/* Reap, time out and feed the jobs of one exec sink, then start queued
 * alerts in free slots. */
static void exec_tick(struct sinkset *set, struct sink *s, int64_t now)
{
    for (size_t i = 0; i < (size_t)s->conf->concurrency; i++) {
        struct exec_job *j = &s->jobs[i];
        int status;
        pid_t r;

        if (j->pid == 0)
            continue;
        exec_feed(s, j);
        r = waitpid(j->pid, &status, WNOHANG);
        if (r == j->pid || (r < 0 && errno == ECHILD)) {
            if (r < 0)
                log_error("sink %s: lost child %ld", sink_name(s), (long)j->pid);
            else if (j->term_sent) {
                set->stats.failures++;
                log_warn("sink %s: command '%s' timed out after %ds and was killed "
                         "(rule %s, alert %" PRId64 ")",
                         sink_name(s), s->conf->command, s->conf->timeout_s, j->a.topic,
                         j->a.seq);
            } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                set->stats.failures++;
                log_warn("sink %s: command '%s' exited with status %d (rule %s, alert %" PRId64
                         ")",
                         sink_name(s), s->conf->command, WEXITSTATUS(status), j->a.topic,
                         j->a.seq);
            } else if (WIFSIGNALED(status)) {
                set->stats.failures++;
                log_warn("sink %s: command '%s' killed by signal %d (rule %s, alert %" PRId64
                         ")",
                         sink_name(s), s->conf->command, WTERMSIG(status), j->a.topic,
                         j->a.seq);
            }
            if (j->fd >= 0)
                close(j->fd);
            exec_alert_free(&j->a);
            memset(j, 0, sizeof(*j));
            j->fd = -1;
            s->njobs--;
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
    while (s->qlen > 0 && s->njobs < (size_t)s->conf->concurrency) {
        struct exec_alert a = s->queue[s->qhead];

        s->qhead = (s->qhead + 1) % SINK_EXEC_QUEUE_MAX;
        s->qlen--;
        exec_start(set, s, &a);
    }
}

/* --- the set --------------------------------------------------------------- */

int sinkset_open(const struct config *cfg, struct sinkset **out, na_error *err)
{
    struct sinkset *set = calloc(1, sizeof(*set));

    *out = NULL;
    if (set == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    set->last_seq = -1;
    set->sinks = calloc(cfg->notifier.nsinks + 1, sizeof(*set->sinks));
    if (set->sinks == NULL) {
        free(set);
        return na_error_set(err, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < cfg->notifier.nsinks; i++) {
        const struct sink_conf *c = &cfg->notifier.sinks[i];
        struct sink *s = &set->sinks[i];

        s->conf = c;
        s->fd = -1;
        set->nsinks++;
        switch (c->type) {
        case SINK_STDOUT:
            s->text = c->format == SINK_FORMAT_TEXT ||
                      (c->format == SINK_FORMAT_AUTO && isatty(STDOUT_FILENO));
            break;
        case SINK_FILE:
            s->fd = c->path != NULL ? sink_open_file(c->path) : -1;
            if (s->fd < 0) {
                na_error_set(err, 0, 0, "sink %s: cannot open '%s': %s", sink_name(s),
                             c->path != NULL ? c->path : "(no path)",
                             c->path != NULL ? strerror(errno) : "no path");
                goto fail;
            }
            break;
        case SINK_EXEC:
            if (c->command == NULL || c->concurrency < 1 || c->timeout_s < 1) {
                na_error_set(err, 0, 0, "sink %s: needs a command, concurrency >= 1 and "
                             "timeout_s >= 1", sink_name(s));
                goto fail;
            }
            s->jobs = calloc((size_t)c->concurrency, sizeof(*s->jobs));
            s->queue = calloc(SINK_EXEC_QUEUE_MAX, sizeof(*s->queue));
            if (s->jobs == NULL || s->queue == NULL) {
                na_error_set(err, 0, 0, "out of memory");
                goto fail;
            }
            for (size_t k = 0; k < (size_t)c->concurrency; k++)
                s->jobs[k].fd = -1;
            break;
        default:
            na_error_set(err, 0, 0, "sink %s: unknown type %d", sink_name(s), (int)c->type);
            goto fail;
        }
    }
    *out = set;
    return 0;
fail:
    sinkset_free(&set);
    return -1;
}

void sinkset_free(struct sinkset **pset)
{
    struct sinkset *set = *pset;

    if (set == NULL)
        return;
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];

        if (s->fd >= 0)
            close(s->fd);
        for (size_t k = 0; s->jobs != NULL && k < (size_t)s->conf->concurrency; k++) {
            struct exec_job *j = &s->jobs[k];

            if (j->pid != 0) {
                kill(-j->pid, SIGKILL);
                while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {
                }
            }
            if (j->fd >= 0)
                close(j->fd);
            exec_alert_free(&j->a);
        }
        while (s->queue != NULL && s->qlen > 0) {
            exec_alert_free(&s->queue[s->qhead]);
            s->qhead = (s->qhead + 1) % SINK_EXEC_QUEUE_MAX;
            s->qlen--;
        }
        free(s->jobs);
        free(s->queue);
    }
    free(set->sinks);
    free(set);
    *pset = NULL;
}

int sinkset_deliver(struct sinkset *set, const char *topic, const char *body, size_t len)
{
    int64_t seq;
    int wanted = 0;

    if (alert_seq(body, len, &seq) != 0) {
        log_warn("alert for rule %s has no seq, dropped", topic);
        set->stats.failures++;
        return 0;
    }
    if (seq <= set->last_seq) {
        set->stats.duplicates++;
        log_warn("alert %" PRId64 " for rule %s is not after alert %" PRId64
                 " already delivered, dropped as a duplicate",
                 seq, topic, set->last_seq);
        return 0;
    }
    set->last_seq = seq;
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];

        if (!sink_wants(s, topic))
            continue;
        wanted = 1;
        switch (s->conf->type) {
        case SINK_STDOUT:
            sink_deliver_stdout(set, s, body, len);
            break;
        case SINK_FILE:
            sink_deliver_file(set, s, body, len);
            break;
        case SINK_EXEC:
            sink_deliver_exec(set, s, topic, body, len, seq);
            break;
        }
    }
    if (wanted)
        set->stats.delivered++;
    else
        set->stats.unmatched++;
    return wanted;
}

void sinkset_reopen(struct sinkset *set)
{
    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];
        int fd;

        if (s->conf->type != SINK_FILE)
            continue;
        fd = sink_open_file(s->conf->path);
        if (fd < 0) {
            log_error("sink %s: cannot reopen '%s': %s; still writing to the old file",
                      sink_name(s), s->conf->path, strerror(errno));
            continue;
        }
        if (s->fd >= 0)
            close(s->fd);
        s->fd = fd;
        s->write_failed = 0;
        log_info("sink %s: reopened '%s'", sink_name(s), s->conf->path);
    }
}

void sinkset_tick(struct sinkset *set)
{
    int64_t now = sink_now_ms();

    for (size_t i = 0; i < set->nsinks; i++) {
        if (set->sinks[i].conf->type == SINK_EXEC)
            exec_tick(set, &set->sinks[i], now);
    }
}

int sinkset_timeout_ms(const struct sinkset *set)
{
    int64_t now = sink_now_ms(), best = -1;

    for (size_t i = 0; i < set->nsinks; i++) {
        const struct sink *s = &set->sinks[i];

        for (size_t k = 0; s->jobs != NULL && k < (size_t)s->conf->concurrency; k++) {
            const struct exec_job *j = &s->jobs[k];
            int64_t wait;

            if (j->pid == 0)
                continue;
            /* Input still to write: poll soon.  Otherwise wake for the
             * next deadline, and now and then to reap (SIGCHLD usually
             * wakes us first). */
            wait = j->fd >= 0 ? 10 : 100;
            if (j->term_sent == 0 && j->deadline_ms - now < wait)
                wait = j->deadline_ms - now;
            else if (j->term_sent == 1 && j->kill_ms - now < wait)
                wait = j->kill_ms - now;
            if (wait < 0)
                wait = 0;
            if (best < 0 || wait < best)
                best = wait;
        }
    }
    return (int)best;
}

void sinkset_shutdown(struct sinkset *set, int grace_ms)
{
    int64_t end = sink_now_ms() + grace_ms;
    size_t running;

    for (size_t i = 0; i < set->nsinks; i++) {
        struct sink *s = &set->sinks[i];

        if (s->qlen > 0)
            log_warn("sink %s: %zu queued alerts not run at shutdown", sink_name(s), s->qlen);
        set->stats.dropped += s->qlen;
        while (s->qlen > 0) {
            exec_alert_free(&s->queue[s->qhead]);
            s->qhead = (s->qhead + 1) % SINK_EXEC_QUEUE_MAX;
            s->qlen--;
        }
    }
    for (;;) {
        running = 0;
        sinkset_tick(set);
        for (size_t i = 0; i < set->nsinks; i++)
            running += set->sinks[i].njobs;
        if (running == 0 || sink_now_ms() >= end)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    if (running > 0)
        log_warn("killing %zu commands still running at shutdown", running);
    /* sinkset_free() kills and reaps what is left. */
}

void sinkset_get_stats(const struct sinkset *set, struct sinkset_stats *out)
{
    *out = set->stats;
}

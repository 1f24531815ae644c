/*
 * rulewatch.c - notice when the rules file or directory changes (see
 * rulewatch.h).  Linux inotify: one watch on the directory that holds the
 * rules (the rules directory itself, or the rules file's directory, with
 * events filtered by the file's name).
 */
#include "rulewatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct rulewatch {
    int fd;
    int wd;
    char *name;     /* the rules file's name within the watched directory, or NULL */
    int64_t due_ms; /* when the pending reload is due, -1 when none */
};

static int has_json_suffix(const char *name)
{
    size_t n = strlen(name);

    return n > 5 && name[0] != '.' && strcmp(name + n - 5, ".json") == 0;
}

int rulewatch_new(const char *path, struct rulewatch **out, na_error *err)
{
    struct rulewatch *w;
    struct stat st;
    char *dir = NULL;
    const char *slash;
    uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;

    *out = NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    w->due_ms = -1;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        na_error_set(err, 0, 0, "cannot watch %s: %s", path, strerror(errno));
        free(w);
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir = strdup(path);
    } else {
        slash = strrchr(path, '/');
        if (slash == NULL) {
            dir = strdup(".");
            w->name = strdup(path);
        } else {
            dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
            w->name = strdup(slash + 1);
        }
        if (w->name == NULL || w->name[0] == '\0') {
            free(dir);
            dir = NULL;
        }
    }
    if (dir == NULL) {
        na_error_set(err, 0, 0, "cannot watch %s: bad path or out of memory", path);
        rulewatch_free(&w);
        return -1;
    }
    w->wd = inotify_add_watch(w->fd, dir, mask);
    if (w->wd < 0) {
        na_error_set(err, 0, 0, "cannot watch %s: %s", dir, strerror(errno));
        free(dir);
        rulewatch_free(&w);
        return -1;
    }
    free(dir);
    *out = w;
    return 0;
}

void rulewatch_free(struct rulewatch **pw)
{
    struct rulewatch *w;

    if (pw == NULL || *pw == NULL)
        return;
    w = *pw;
    if (w->fd >= 0)
        close(w->fd);
    free(w->name);
    free(w);
    *pw = NULL;
}

int rulewatch_fd(const struct rulewatch *w)
{
    return w->fd;
}

void rulewatch_read(struct rulewatch *w, int64_t now_ms)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        size_t off = 0;

        if (n <= 0)
            return; /* EAGAIN: drained */
        while (off + sizeof(struct inotify_event) <= (size_t)n) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            size_t evlen = sizeof(*ev) + ev->len;
            const char *name;

            if (off + evlen > (size_t)n)
                break;
            name = ev->len > 0 ? ev->name : "";
            if (ev->mask & IN_Q_OVERFLOW)
                w->due_ms = now_ms + RULEWATCH_SETTLE_MS;
            else if (w->name != NULL ? strcmp(name, w->name) == 0 : has_json_suffix(name))
                w->due_ms = now_ms + RULEWATCH_SETTLE_MS;
            off += evlen;
        }
    }
}

int rulewatch_due(struct rulewatch *w, int64_t now_ms)
{
    if (w == NULL || w->due_ms < 0 || now_ms < w->due_ms)
        return 0;
    w->due_ms = -1;
    return 1;
}

int64_t rulewatch_wait_ms(const struct rulewatch *w, int64_t now_ms)
{
    if (w == NULL || w->due_ms < 0)
        return -1;
    return w->due_ms > now_ms ? w->due_ms - now_ms : 0;
}

/*
 * rulewatch.h - notice when the rules file or directory changes (inotify).
 *
 * The matcher reloads its rules on SIGHUP and when this watcher says the
 * rules changed.  A rules file is watched through its directory (editors
 * and deployment tools replace files by renaming a new one over them), a
 * rules directory for any *.json file written, moved in, moved out or
 * deleted.  Events are debounced: a reload is due RULEWATCH_SETTLE_MS after
 * the last change, so a file written in several steps is read once, whole.
 */
#ifndef NEWSALERT_RULEWATCH_H
#define NEWSALERT_RULEWATCH_H

#include <stdint.h>

#include "error.h"

#define RULEWATCH_SETTLE_MS 250

struct rulewatch;

/* Watch the rules file or directory at `path`.  Returns 0 and *out, or -1
 * with *err (then the caller may go on without watching). */
int rulewatch_new(const char *path, struct rulewatch **out, na_error *err);

void rulewatch_free(struct rulewatch **pw);

/* The file descriptor to poll for input. */
int rulewatch_fd(const struct rulewatch *w);

/* Read the pending events (call when the fd is readable); `now_ms` is a
 * monotonic clock in milliseconds. */
void rulewatch_read(struct rulewatch *w, int64_t now_ms);

/* Whether a reload is due now (then it is no longer pending). */
int rulewatch_due(struct rulewatch *w, int64_t now_ms);

/* Milliseconds until a pending reload is due (0 when due), or -1 when none
 * is pending. */
int64_t rulewatch_wait_ms(const struct rulewatch *w, int64_t now_ms);

#endif

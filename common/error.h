/*
 * error.h - caller-owned error reports.
 *
 * Parsers of untrusted or user input (feeds, rules, config, frames) take a
 * `na_error *` from their caller and fill it when they fail.  The message is
 * complete and ready to print: it carries the location ("file:line:col: ")
 * and the problem, lower-case, no full stop, git style.  line/column are kept
 * separately as well so tests can check them.  A NULL `na_error *` is allowed
 * everywhere and means "the caller does not care".
 */
#ifndef NEWSALERT_ERROR_H
#define NEWSALERT_ERROR_H

#include <stddef.h>

typedef struct na_error {
    int line;       /* 1-based line of the problem, 0 when unknown */
    int column;     /* 1-based column of the problem, 0 when unknown */
    char msg[1024]; /* the whole message, NUL-terminated */
} na_error;

/* Clear *e (no error).  NULL-safe. */
void na_error_clear(na_error *e);

/* Set line, column and the formatted message.  NULL-safe.  Returns -1 so a
 * parser can write `return na_error_set(err, ...);`. */
int na_error_set(na_error *e, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Put "prefix: " in front of the current message (e.g. a file name or a
 * rule id), keeping line and column.  NULL-safe. */
void na_error_prefix(na_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

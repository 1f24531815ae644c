/*
 * error.c - caller-owned error reports (see error.h).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void na_error_clear(na_error *e)
{
    if (e == NULL)
        return;
    e->line = 0;
    e->column = 0;
    e->msg[0] = '\0';
}

int na_error_set(na_error *e, int line, int column, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL)
        return -1;
    e->line = line;
    e->column = column;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void na_error_prefix(na_error *e, const char *fmt, ...)
{
    char buf[sizeof(e->msg)];
    size_t n, rest;
    va_list ap;
    int m;

    if (e == NULL)
        return;
    va_start(ap, fmt);
    m = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    n = m < 0 ? 0 : (size_t)m;
    if (n > sizeof(buf) - 3)
        n = sizeof(buf) - 3;
    buf[n++] = ':';
    buf[n++] = ' ';
    rest = strnlen(e->msg, sizeof(e->msg) - 1);
    if (rest > sizeof(buf) - 1 - n)
        rest = sizeof(buf) - 1 - n; /* the message is cut, never overflowed */
    memcpy(buf + n, e->msg, rest);
    buf[n + rest] = '\0';
    memcpy(e->msg, buf, n + rest + 1);
}

/*
 * log.c - leveled, timestamped logging to stderr (see log.h).
 *
 * Each line is formatted into one buffer and written with a single write(2)
 * so lines from several threads or processes sharing stderr do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "newsalert";
static enum log_level log_threshold = LOG_INFO;

void log_init(const char *progname)
{
    const char *env = getenv("NEWSALERT_LOG_LEVEL");

    if (progname != NULL)
        log_prog = progname;
    if (env == NULL)
        return;
    if (strcasecmp(env, "debug") == 0)
        log_threshold = LOG_DEBUG;
    else if (strcasecmp(env, "info") == 0)
        log_threshold = LOG_INFO;
    else if (strcasecmp(env, "warn") == 0)
        log_threshold = LOG_WARN;
    else if (strcasecmp(env, "error") == 0)
        log_threshold = LOG_ERROR;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    char line[4096];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;

    if (level < log_threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, names[level],
                 log_prog);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}

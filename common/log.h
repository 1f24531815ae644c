/*
 * log.h - leveled, timestamped logging to stderr.
 *
 * Every daemon logs one line per event:
 *   2026-11-25T17:40:05.123Z INFO  fetcher: message
 * The level threshold comes from log_init() (or NEWSALERT_LOG_LEVEL in the
 * environment: debug, info, warn, error).
 */
#ifndef NEWSALERT_LOG_H
#define NEWSALERT_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the program name shown on each line and read NEWSALERT_LOG_LEVEL. */
void log_init(const char *progname);

void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif

/*
 * config.h - the deployment configuration and the feeds list.
 *
 * One JSON file per deployment (see README "Configuration").  Relative paths
 * inside it are resolved against the file's directory, so the paths held in
 * struct config are ready to open.  Unknown keys, wrong types and values out
 * of range are errors reported as "file:line:col: problem".
 */
#ifndef NEWSALERT_CONFIG_H
#define NEWSALERT_CONFIG_H

#include <stddef.h>

#include "error.h"

enum sink_type { SINK_STDOUT, SINK_FILE, SINK_EXEC };

enum sink_format { SINK_FORMAT_AUTO, SINK_FORMAT_TEXT, SINK_FORMAT_JSON };

struct sink_conf {
    enum sink_type type;
    char *name;            /* "stdout", "file:PATH", "exec:CMD" unless given */
    char **topics;         /* topic prefixes this sink wants; NULL = all */
    size_t ntopics;
    enum sink_format format; /* stdout: auto = text on a terminal, else JSON */
    char *path;            /* file: resolved path */
    char *command;         /* exec: run with /bin/sh -c, alert JSON on stdin */
    int timeout_s;         /* exec: kill after this long (default 30) */
    int concurrency;       /* exec: commands running at once (default 4) */
};

struct config {
    char *path;            /* the config file itself */
    char *state_dir;       /* resolved, default "<dir>/var" */
    char *feeds_path;      /* resolved, default "<dir>/feeds.json" */
    char *rules_path;      /* resolved, default "<dir>/rules.json" */
    char *items_endpoint;  /* default tcp://127.0.0.1:5601 */
    char *alerts_endpoint; /* default tcp://127.0.0.1:5602 */
    char *replay_endpoint; /* default tcp://127.0.0.1:5603 (reserved) */
    struct {
        int concurrency;   /* transfers at once, default 16 */
        int interval_s;    /* default poll interval, default 300 */
        int timeout_s;     /* per transfer, default 20 */
        long long max_bytes; /* body size limit, default 8 MiB */
        int max_age_s;     /* first poll: older items recorded, not sent; 0 = no limit */
    } fetcher;
    struct {
        char **topics;     /* SUB prefixes, default [""] */
        size_t ntopics;
        struct sink_conf *sinks; /* default: one stdout sink */
        size_t nsinks;
    } notifier;
};

struct feed_conf {
    char *url;
    char *name;            /* default: the URL */
    int interval_s;        /* default: config fetcher.interval_s */
    int max_age_s;         /* default: config fetcher.max_age_s */
};

struct feedlist {
    struct feed_conf *feeds;
    size_t nfeeds;
};

/* Load and validate a deployment configuration.  Returns 0 and sets *out,
 * or -1 with *err set. */
int config_load(const char *path, struct config **out, na_error *err);

void config_free(struct config **pcfg);

/* Load the feeds file named by cfg (defaults for interval_s and max_age_s
 * come from cfg).  Duplicate URLs and non-http(s)/file URLs are errors. */
int feedlist_load(const struct config *cfg, struct feedlist **out, na_error *err);

void feedlist_free(struct feedlist **pfl);

#endif

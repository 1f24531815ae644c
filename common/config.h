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

enum sink_type { SINK_STDOUT, SINK_FILE, SINK_EXEC, SINK_WEBHOOK, SINK_EMAIL };

enum sink_format { SINK_FORMAT_AUTO, SINK_FORMAT_TEXT, SINK_FORMAT_JSON };

/* webhook: the request body (README "Sinks") */
enum sink_template {
    SINK_TEMPLATE_JSON,    /* the alert JSON as published */
    SINK_TEMPLATE_SLACK,   /* {"text": ...} */
    SINK_TEMPLATE_DISCORD, /* {"content": ...} */
    SINK_TEMPLATE_MATRIX,  /* an m.room.message event, m.text */
    SINK_TEMPLATE_NTFY     /* plain text, Title/Click/Tags headers */
};

/* email: CURLOPT_USE_SSL */
enum sink_starttls {
    SINK_STARTTLS_REQUIRED, /* CURLUSESSL_ALL: fail without TLS (default) */
    SINK_STARTTLS_TRY,      /* CURLUSESSL_TRY: upgrade when offered */
    SINK_STARTTLS_OFF       /* CURLUSESSL_NONE */
};

/* Where a sink without a cursor (first run) starts. */
enum sink_start {
    SINK_START_OLDEST, /* every alert the journal still holds (default) */
    SINK_START_NOW     /* only alerts published from now on */
};

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
    enum sink_start start; /* first run without a cursor (default oldest) */
    /* webhook and email */
    char *url;             /* webhook: http(s), "{seq}" replaced; email: smtp(s) */
    int retry_initial_ms;  /* first delay between attempts (default 1000) */
    int retry_max_s;       /* longest delay, doubling up to it (default 300) */
    int max_attempts;      /* give an alert up after this many; 0 = never (default) */
    /* webhook */
    enum sink_template tmpl; /* key `template`, default json */
    char *method;          /* "POST" (default; "PUT" for matrix) */
    char *secret;          /* HMAC-SHA256 key; NULL = no signature header */
    char *signature_header; /* default "X-Newsalert-Signature" */
    char **headers;        /* extra "Name: value" request headers */
    size_t nheaders;
    /* email */
    char *from;            /* the From address */
    char **to;             /* recipients, at least one */
    size_t nto;
    char *username;        /* SMTP AUTH, NULL = none */
    char *password;
    enum sink_starttls starttls; /* default required */
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
        int per_host;      /* transfers at once to one host (host:port), default 2 */
        int seen_retention_s; /* forget seen ids not listed for this long, default
                                 30 days (never those of a feed's latest document);
                                 0 = keep forever */
        int max_backoff_s; /* longest wait after repeated failures, default 6 h
                              (a feed's own longer interval wins) */
        int parse_threads; /* threads parsing documents, default one per online
                              core (at most CONFIG_PARSE_THREADS_MAX) */
        char *ca_file;     /* PEM bundle of CAs trusted for https feeds
                              (CURLOPT_CAINFO, in place of libcurl's bundle;
                              its CA directory still counts), resolved
                              against the config file and readable at load;
                              NULL (default): libcurl's system bundle */
    } fetcher;
    struct {
        int threads;       /* matching threads, default: online cores (1..64) */
    } matcher;
    struct {
        long long retention_s; /* alerts kept this long, default 7 days; 0 = no age limit */
        long long max_alerts;  /* at most this many alerts kept, default 1000000; 0 = no limit */
        int sync;              /* fsync each commit, default 1 (0: benchmarks only) */
    } journal;
    struct {
        char **topics;     /* SUB prefixes, default [""] */
        size_t ntopics;
        struct sink_conf *sinks; /* default: one stdout sink */
        size_t nsinks;
    } notifier;
};

#define CONFIG_MATCHER_THREADS_MAX 64
#define CONFIG_PARSE_THREADS_MAX 64

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

/*
 * poller.h - concurrent HTTP(S)/file fetches with the libcurl multi interface.
 *
 * The fetcher hands the poller one request per feed that is due; the
 * poller runs them all at once on one thread and hands back one result per
 * request.  Every transfer is bounded: a total timeout, a body size limit
 * (checked by curl against Content-Length and by us while bytes arrive, so
 * chunked or compressed bodies are bounded too), at most POLLER_MAX_REDIRS
 * redirects, only http/https/file to start with and only http/https for a
 * redirect target.  Conditional GET: the caller passes the validators it
 * kept and gets the new ones back; a 304 is a success with no body.
 *
 * Connections: one curl multi handle shares a connection cache (reuse,
 * keep-alive) among all transfers; at most max_total connections exist at
 * once and at most per_host to one host; HTTPS uses HTTP/2 when the server
 * offers it (ALPN), and transfers to one HTTP/2 host share its connection
 * (multiplexing).  The caller keeps its own per-host admission as well, so
 * transfers that could not get a connection do not queue inside curl.
 *
 * Caching hints of the response (Cache-Control max-age, Expires against
 * Date, Retry-After in seconds or as an HTTP date) are handed back as
 * seconds from now; the scheduler decides what to do with them.
 * CURL types stay inside poller.c.
 */
#ifndef NEWSALERT_FETCHER_POLLER_H
#define NEWSALERT_FETCHER_POLLER_H

#include <stddef.h>

#include "error.h"

#define POLLER_MAX_REDIRS 5
#define POLLER_USER_AGENT "newsalert/" NEWSALERT_VERSION " (+https://github.com/newsalert)"
#define POLLER_MAX_VALIDATOR 512 /* longer ETag / Last-Modified values are dropped */

struct poller;

struct poller_options {
    int max_total; /* connections at once (CURLMOPT_MAX_TOTAL_CONNECTIONS) */
    int per_host;  /* connections to one host (CURLMOPT_MAX_HOST_CONNECTIONS) */
    const char *ca_file; /* CAs trusted for https (CURLOPT_CAINFO), copied;
                            NULL: libcurl's default bundle */
};

struct poller_request {
    const char *url;
    const char *etag;          /* sent as If-None-Match; NULL: none */
    const char *last_modified; /* sent as If-Modified-Since; NULL: none */
    long timeout_s;            /* whole transfer */
    long long max_bytes;       /* body limit (after decompression) */
    void *user;                /* handed back in the result */
};

struct poller_result {
    void *user;
    int ok;             /* 1: a usable response (2xx, 304, or a file) */
    int not_modified;   /* 1: HTTP 304, no body */
    long http_status;   /* 0 for file: URLs and failed connections */
    char error[512];    /* when !ok: why, lower-case, ready to log */
    char *body;         /* NUL-terminated (the NUL is not counted in len) */
    size_t len;
    char *content_type;  /* NULL when absent */
    char *effective_url; /* after redirects */
    char *etag;          /* validators of this response, NULL when absent */
    char *last_modified;
    long retry_after_s;  /* Retry-After, seconds from now; -1 absent or invalid */
    long max_age_s;      /* Cache-Control max-age; -1 absent (no-cache, no-store: 0) */
    long expires_s;      /* Expires - Date (or now), -1 absent or invalid; >= 0 */
};

/* A poller; curl's global state is set up here (one poller per process).
 * Returns 0 and *out, or -1 with *err. */
int poller_new(const struct poller_options *opts, struct poller **out, na_error *err);

/* Abort every transfer still running, free *pp, set it to NULL.  NULL-safe. */
void poller_free(struct poller **pp);

/* Start a transfer.  Returns 0, or -1 with *err (out of memory, curl
 * refusing an option). */
int poller_start(struct poller *p, const struct poller_request *req, na_error *err);

/* Transfers started and not yet handed back by poller_next_done. */
size_t poller_active(const struct poller *p);

/* Make the current (or, when none runs, the next) poller_wait* return
 * early.  The one poller function safe to call from another thread (the
 * parsing thread, parsework.h: curl_multi_wakeup). */
void poller_wakeup(struct poller *p);

/* Wait up to timeout_ms for network activity and move the transfers on.
 * A signal may cut the wait short.  Returns 0, or -1 on a curl multi
 * error (logged). */
int poller_wait(struct poller *p, int timeout_ms);

/* The same, also waking up when extra_fd (-1: none) becomes readable (the
 * hand-off's ZeroMQ socket, so acks are taken as they arrive). */
int poller_wait_fd(struct poller *p, int timeout_ms, int extra_fd);

/* Take one finished transfer: returns 1 and fills *out (the caller clears
 * it with poller_result_clear), or 0 when none is finished. */
int poller_next_done(struct poller *p, struct poller_result *out);

/* Abort the transfer started with `user`, if any; no result comes back
 * for it.  Returns 1 when one was aborted, else 0. */
int poller_abort(struct poller *p, void *user);

/* Free what *r owns and zero it.  NULL-safe. */
void poller_result_clear(struct poller_result *r);

/* Header value parsers (exposed for the tests).  Each returns seconds
 * (>= 0) or -1 when the value is absent (NULL), invalid or meaningless.
 * Retry-After: delta-seconds or an HTTP date (relative to now). */
long poller_parse_retry_after(const char *value, long long now);

/* Cache-Control: the max-age directive (s-maxage is for shared caches and
 * ignored); no-cache / no-store count as 0. */
long poller_parse_max_age(const char *value);

/* Expires relative to the response's Date (now when date is NULL or
 * invalid); an invalid or past Expires gives -1. */
long poller_parse_expires(const char *expires, const char *date, long long now);

#endif

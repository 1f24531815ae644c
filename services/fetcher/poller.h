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
};

/* A poller; curl's global state is set up here (one poller per process).
 * Returns 0 and *out, or -1 with *err. */
int poller_new(struct poller **out, na_error *err);

/* Abort every transfer still running, free *pp, set it to NULL.  NULL-safe. */
void poller_free(struct poller **pp);

/* Start a transfer.  Returns 0, or -1 with *err (out of memory, curl
 * refusing an option). */
int poller_start(struct poller *p, const struct poller_request *req, na_error *err);

/* Transfers started and not yet handed back by poller_next_done. */
size_t poller_active(const struct poller *p);

/* Wait up to timeout_ms for network activity and move the transfers on.
 * A signal may cut the wait short.  Returns 0, or -1 on a curl multi
 * error (logged). */
int poller_wait(struct poller *p, int timeout_ms);

/* Take one finished transfer: returns 1 and fills *out (the caller clears
 * it with poller_result_clear), or 0 when none is finished. */
int poller_next_done(struct poller *p, struct poller_result *out);

/* Abort the transfer started with `user`, if any; no result comes back
 * for it.  Returns 1 when one was aborted, else 0. */
int poller_abort(struct poller *p, void *user);

/* Free what *r owns and zero it.  NULL-safe. */
void poller_result_clear(struct poller_result *r);

#endif

/*
 * poller.c - concurrent fetches with the libcurl multi interface (see
 * poller.h).
 *
 * Each transfer owns its easy handle, its request headers and a growing
 * body buffer.  Running transfers sit on a list so they can be aborted
 * (reload, shutdown); finished ones are read from curl_multi_info_read and
 * turned into a poller_result that owns the body and the headers we keep.
 */
#include "poller.h"

#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

#define POLLER_ACCEPT                                                                     \
    "Accept: application/rss+xml, application/atom+xml, application/feed+json, "        \
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "                 \
    "application/json;q=0.8, */*;q=0.5"

struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    char *buf;
    size_t len, cap;
    long long max_bytes;
    int oversize;     /* the write callback refused more bytes */
    int no_memory;    /* the write callback could not grow the buffer */
    long timeout_s;
    void *user;
    char errbuf[CURL_ERROR_SIZE];
    struct transfer *prev, *next;
};

struct poller {
    CURLM *multi;
    char *ca_file;         /* CURLOPT_CAINFO of every transfer; NULL: curl's default */
    struct transfer *head; /* running transfers */
    size_t active;
};

/* Append what curl received, refusing to go past max_bytes. */
static size_t poller_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * nmemb;

    if (n == 0)
        return 0;
    if ((long long)(t->len + n) > t->max_bytes) {
        t->oversize = 1;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 16384;
        char *nb;

        while (cap < t->len + n + 1)
            cap *= 2;
        if ((long long)cap > t->max_bytes + 1)
            cap = (size_t)t->max_bytes + 1;
        nb = realloc(t->buf, cap);
        if (nb == NULL) {
            t->no_memory = 1;
            return 0;
        }
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return n;
}

static void transfer_free(struct transfer *t)
{
    if (t == NULL)
        return;
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->buf);
    free(t);
}

static void poller_unlink(struct poller *p, struct transfer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        p->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    curl_multi_remove_handle(p->multi, t->easy);
    p->active--;
}

int poller_new(const struct poller_options *opts, struct poller **out, na_error *err)
{
    struct poller *p;
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLMcode mrc = CURLM_OK;

    *out = NULL;
    if (rc != CURLE_OK)
        return na_error_set(err, 0, 0, "cannot initialise libcurl: %s", curl_easy_strerror(rc));
    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->multi = curl_multi_init()) == NULL ||
        (opts->ca_file != NULL && (p->ca_file = strdup(opts->ca_file)) == NULL)) {
        if (p != NULL && p->multi != NULL)
            curl_multi_cleanup(p->multi);
        free(p);
        curl_global_cleanup();
        return na_error_set(err, 0, 0, "cannot initialise libcurl: out of memory");
    }
#define MSETOPT(opt, val)                                                                 \
    do {                                                                                  \
        if (mrc == CURLM_OK)                                                              \
            mrc = curl_multi_setopt(p->multi, opt, val);                                  \
    } while (0)
    MSETOPT(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    MSETOPT(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)opts->max_total);
    MSETOPT(CURLMOPT_MAX_HOST_CONNECTIONS, (long)opts->per_host);
    /* idle connections kept for reuse: as many as may run at once */
    MSETOPT(CURLMOPT_MAXCONNECTS, (long)opts->max_total);
#undef MSETOPT
    if (mrc != CURLM_OK) {
        na_error_set(err, 0, 0, "cannot configure libcurl: %s", curl_multi_strerror(mrc));
        poller_free(&p);
        return -1;
    }
    *out = p;
    return 0;
}

void poller_free(struct poller **pp)
{
    struct poller *p;

    if (pp == NULL || *pp == NULL)
        return;
    p = *pp;
    *pp = NULL;
    while (p->head != NULL) {
        struct transfer *t = p->head;

        poller_unlink(p, t);
        transfer_free(t);
    }
    curl_multi_cleanup(p->multi);
    free(p->ca_file);
    free(p);
    curl_global_cleanup();
}

size_t poller_active(const struct poller *p)
{
    return p->active;
}

void poller_wakeup(struct poller *p)
{
    curl_multi_wakeup(p->multi);
}

/* Add "Name: value" to the request headers.  Returns 0 or -1. */
static int poller_add_header(struct transfer *t, const char *name, const char *value)
{
    char line[POLLER_MAX_VALIDATOR + 64];
    struct curl_slist *l;
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);

    if (n < 0 || (size_t)n >= sizeof(line))
        return 0; /* an over-long validator is simply not sent */
    l = curl_slist_append(t->headers, line);
    if (l == NULL)
        return -1;
    t->headers = l;
    return 0;
}

int poller_start(struct poller *p, const struct poller_request *req, na_error *err)
{
    struct transfer *t = calloc(1, sizeof(*t));
    CURLcode rc = CURLE_OK;
    CURLMcode mrc;
    CURL *e;

    if (t == NULL || (t->easy = curl_easy_init()) == NULL) {
        free(t);
        return na_error_set(err, 0, 0, "cannot start a transfer: out of memory");
    }
    e = t->easy;
    t->max_bytes = req->max_bytes;
    t->timeout_s = req->timeout_s;
    t->user = req->user;
    if ((t->headers = curl_slist_append(NULL, POLLER_ACCEPT)) == NULL ||
        (req->etag != NULL && poller_add_header(t, "If-None-Match", req->etag) != 0) ||
        (req->last_modified != NULL &&
         poller_add_header(t, "If-Modified-Since", req->last_modified) != 0)) {
        transfer_free(t);
        return na_error_set(err, 0, 0, "cannot start a transfer: out of memory");
    }
#define SETOPT(opt, val)                                                                  \
    do {                                                                                  \
        if (rc == CURLE_OK)                                                               \
            rc = curl_easy_setopt(e, opt, val);                                           \
    } while (0)
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PRIVATE, t);
    SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https,file");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, (long)POLLER_MAX_REDIRS);
    SETOPT(CURLOPT_TIMEOUT, req->timeout_s);
    SETOPT(CURLOPT_CONNECTTIMEOUT, req->timeout_s);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_bytes);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_USERAGENT, POLLER_USER_AGENT);
    SETOPT(CURLOPT_HTTPHEADER, t->headers);
    SETOPT(CURLOPT_WRITEFUNCTION, poller_write);
    SETOPT(CURLOPT_WRITEDATA, t);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (strncmp(req->url, "https:", 6) == 0)
        SETOPT(CURLOPT_PIPEWAIT, 1L); /* prefer a stream on an HTTP/2 connection */
    if (p->ca_file != NULL)
        SETOPT(CURLOPT_CAINFO, p->ca_file); /* verification itself always stays on */
#undef SETOPT
    if (rc != CURLE_OK) {
        na_error_set(err, 0, 0, "cannot start a transfer of %s: %s", req->url,
                     curl_easy_strerror(rc));
        transfer_free(t);
        return -1;
    }
    mrc = curl_multi_add_handle(p->multi, e);
    if (mrc != CURLM_OK) {
        na_error_set(err, 0, 0, "cannot start a transfer of %s: %s", req->url,
                     curl_multi_strerror(mrc));
        transfer_free(t);
        return -1;
    }
    t->next = p->head;
    if (p->head != NULL)
        p->head->prev = t;
    p->head = t;
    p->active++;
    return 0;
}

int poller_wait(struct poller *p, int timeout_ms)
{
    return poller_wait_fd(p, timeout_ms, -1);
}

int poller_wait_fd(struct poller *p, int timeout_ms, int extra_fd)
{
    struct curl_waitfd wfd = {0};
    CURLMcode mrc;
    int running = 0;

    wfd.fd = extra_fd;
    wfd.events = CURL_WAIT_POLLIN;
    mrc = curl_multi_poll(p->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0,
                          timeout_ms, NULL);
    if (mrc == CURLM_OK)
        mrc = curl_multi_perform(p->multi, &running);
    if (mrc != CURLM_OK) {
        log_error("curl multi: %s", curl_multi_strerror(mrc));
        return -1;
    }
    return 0;
}

/* A copy of response header `name` of the last request, or NULL when it is
 * absent, too long, or holds control characters (it goes back to the
 * server in a request header, so it must be a clean header value). */
static char *poller_header(CURL *e, const char *name)
{
    struct curl_header *h = NULL;
    const unsigned char *s;
    size_t n;

    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL ||
        h->value == NULL)
        return NULL;
    n = strlen(h->value);
    if (n == 0 || n > POLLER_MAX_VALIDATOR)
        return NULL;
    for (s = (const unsigned char *)h->value; *s != '\0'; s++)
        if (*s < 0x20 || *s == 0x7f)
            return NULL;
    return strdup(h->value);
}

/* Copy curl's error text, lower-casing its first letter (curl writes
 * "Could not resolve host: x"). */
static void poller_set_error(struct poller_result *r, const char *msg)
{
    snprintf(r->error, sizeof(r->error), "%s", msg);
    if (r->error[0] != '\0' && r->error[1] != '\0' && !isupper((unsigned char)r->error[1]))
        r->error[0] = (char)tolower((unsigned char)r->error[0]);
}

long poller_parse_retry_after(const char *value, long long now)
{
    const char *v = value;
    long long n = 0;
    time_t when;

    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        for (; *v >= '0' && *v <= '9'; v++) {
            if (n > LONG_MAX / 20)
                return -1; /* absurdly far: ignored */
            n = n * 10 + (*v - '0');
        }
        while (*v == ' ' || *v == '\t')
            v++;
        return *v == '\0' ? (long)n : -1;
    }
    when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    if ((long long)when <= now)
        return 0;
    return (long long)when - now > LONG_MAX / 2 ? -1 : (long)((long long)when - now);
}

long poller_parse_max_age(const char *value)
{
    const char *v = value;
    long best = -1;

    if (v == NULL)
        return -1;
    while (*v != '\0') {
        size_t n;

        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        n = strcspn(v, ",");
        if (n >= 8 && strncasecmp(v, "max-age=", 8) == 0) {
            const char *d = v + 8;
            long long x = 0;
            int digits = 0;

            if (*d == '"')
                d++;
            for (; *d >= '0' && *d <= '9' && x < LONG_MAX / 20; d++, digits++)
                x = x * 10 + (*d - '0');
            if (digits > 0)
                best = (long)x;
        } else if ((n >= 8 && strncasecmp(v, "no-cache", 8) == 0) ||
                   (n >= 8 && strncasecmp(v, "no-store", 8) == 0)) {
            return 0;
        }
        v += n;
    }
    return best;
}

long poller_parse_expires(const char *expires, const char *date, long long now)
{
    time_t e, d = (time_t)-1;

    if (expires == NULL)
        return -1;
    e = curl_getdate(expires, NULL);
    if (e == (time_t)-1)
        return -1;
    if (date != NULL)
        d = curl_getdate(date, NULL);
    if (d != (time_t)-1)
        now = (long long)d;
    if ((long long)e <= now)
        return -1; /* "already expired": no hint */
    return (long long)e - now > LONG_MAX / 2 ? -1 : (long)((long long)e - now);
}

/* The raw value of response header `name` of the last request, or NULL
 * (borrowed from curl: valid until the next header call). */
static const char *poller_header_raw(CURL *e, const char *name)
{
    struct curl_header *h = NULL;

    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL)
        return NULL;
    return h->value;
}

/* The caching hints of the last response into *r. */
static void poller_hints(CURL *e, struct poller_result *r)
{
    long long now = (long long)time(NULL);
    char *date = NULL;
    const char *v;

    r->retry_after_s = poller_parse_retry_after(poller_header_raw(e, "Retry-After"), now);
    r->max_age_s = poller_parse_max_age(poller_header_raw(e, "Cache-Control"));
    v = poller_header_raw(e, "Date");
    if (v != NULL)
        date = strdup(v); /* the next curl_easy_header call reuses the storage */
    r->expires_s = poller_parse_expires(poller_header_raw(e, "Expires"), date, now);
    free(date);
}

/* Debug: the HTTP version the transfer of url used (ALPN picks HTTP/2 on
 * https when the server offers it); nothing for file: URLs. */
static void poller_log_version(CURL *e, const char *url, long status)
{
    long v = CURL_HTTP_VERSION_NONE;
    const char *name;

    if (curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v) != CURLE_OK)
        return;
    switch (v) {
    case CURL_HTTP_VERSION_1_0: name = "HTTP/1.0"; break;
    case CURL_HTTP_VERSION_1_1: name = "HTTP/1.1"; break;
    case CURL_HTTP_VERSION_2_0: name = "HTTP/2"; break;
    case CURL_HTTP_VERSION_3: name = "HTTP/3"; break;
    default: return; /* no HTTP response (file:, failed connection) */
    }
    log_debug("%s: %s, status %ld", url, name, status);
}

/* Fill *r from a finished transfer. */
static void poller_fill(struct transfer *t, CURLcode code, struct poller_result *r)
{
    char *s = NULL;
    long status = 0;

    r->user = t->user;
    r->retry_after_s = r->max_age_s = r->expires_s = -1;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r->http_status = status;
    if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &s) == CURLE_OK && s != NULL)
        r->effective_url = strdup(s);
    s = NULL;
    if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s != NULL)
        r->content_type = strdup(s);
    if (status != 0)
        poller_log_version(t->easy, r->effective_url != NULL ? r->effective_url : "?", status);

    if (t->oversize || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(r->error, sizeof(r->error), "response body larger than max_bytes (%lld bytes)",
                 t->max_bytes);
        return;
    }
    if (t->no_memory) {
        snprintf(r->error, sizeof(r->error), "out of memory while receiving the response");
        return;
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(r->error, sizeof(r->error), "timed out after %ld s (%s)", t->timeout_s,
                 t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(code));
        return;
    }
    if (code != CURLE_OK) {
        poller_set_error(r, t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(code));
        return;
    }
    if (status != 0)
        poller_hints(t->easy, r);
    if (status == 304) {
        r->ok = 1;
        r->not_modified = 1;
    } else if (status == 0 || (status >= 200 && status < 300)) {
        r->ok = 1; /* status 0: a file: URL */
    } else if (status == 429 || status == 503) {
        snprintf(r->error, sizeof(r->error), "HTTP status %ld (%s), backing off", status,
                 status == 429 ? "too many requests" : "service unavailable");
        return;
    } else {
        snprintf(r->error, sizeof(r->error), "HTTP status %ld", status);
        return;
    }
    if (status != 0) {
        r->etag = poller_header(t->easy, "ETag");
        r->last_modified = poller_header(t->easy, "Last-Modified");
    }
    if (!r->not_modified) {
        if (t->buf == NULL) { /* an empty body */
            t->buf = malloc(1);
            if (t->buf == NULL) {
                r->ok = 0;
                snprintf(r->error, sizeof(r->error), "out of memory");
                return;
            }
            t->buf[0] = '\0';
        }
        r->body = t->buf;
        r->len = t->len;
        t->buf = NULL;
    }
}

int poller_next_done(struct poller *p, struct poller_result *out)
{
    CURLMsg *msg;
    int left = 0;

    memset(out, 0, sizeof(*out));
    while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
        struct transfer *t = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t == NULL)
            continue;
        poller_fill(t, msg->data.result, out);
        poller_unlink(p, t);
        transfer_free(t);
        return 1;
    }
    return 0;
}

int poller_abort(struct poller *p, void *user)
{
    struct transfer *t;

    for (t = p->head; t != NULL; t = t->next)
        if (t->user == user) {
            poller_unlink(p, t);
            transfer_free(t);
            return 1;
        }
    return 0;
}

void poller_result_clear(struct poller_result *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r->content_type);
    free(r->effective_url);
    free(r->etag);
    free(r->last_modified);
    memset(r, 0, sizeof(*r));
}

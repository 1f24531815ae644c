/*
 * remote.c - webhook and e-mail attempts with libcurl (see remote.h).
 *
 * One easy handle per sink, reset before each attempt so that its
 * connection cache carries over (keep-alive to the same webhook host).
 * Only http/https (webhook) or smtp/smtps (email) are allowed, redirects
 * are not followed, and the response body is discarded.  An alert that
 * cannot be rendered for want of memory is tried again, never given up as
 * a bad alert.
 */
#include "remote.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item.h"
#include "log.h"
#include "render.h"

#define REMOTE_CONNECT_TIMEOUT_S 10
#define REMOTE_UA "newsalert-notifier/" NEWSALERT_VERSION

struct remote {
    const struct sink_conf *c;
    const atomic_int *stop;
    void (*busy)(void *);
    void *arg;
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
};

struct remote_upload {
    const char *p;
    size_t len;
    size_t off;
};

struct remote *remote_new(const struct sink_conf *c, const atomic_int *stop,
                          void (*busy)(void *), void *arg)
{
    struct remote *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->c = c;
    r->stop = stop;
    r->busy = busy;
    r->arg = arg;
    if ((r->h = curl_easy_init()) == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void remote_free(struct remote **pr)
{
    struct remote *r = *pr;

    if (r == NULL)
        return;
    curl_easy_cleanup(r->h);
    free(r);
    *pr = NULL;
}

static size_t remote_discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

static int remote_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                           curl_off_t un)
{
    const struct remote *r = user;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    if (r->busy != NULL)
        r->busy(r->arg);
    return atomic_load(r->stop) ? 1 : 0;
}

static size_t remote_read(char *buf, size_t size, size_t n, void *user)
{
    struct remote_upload *u = user;
    size_t want = size * n, left = u->len - u->off;

    if (want > left)
        want = left;
    memcpy(buf, u->p + u->off, want);
    u->off += want;
    return want;
}

/* render_parse() refused the alert `body`: why?  It refuses a body that is
 * not a JSON object with an integer seq (a bad alert: REMOTE_FAIL) and
 * fails when out of memory (REMOTE_RETRY); the body is read again here
 * the same way, with jansson's failed allocations counted, to tell the two
 * apart.  *why is set. */
static enum remote_outcome remote_parse_failed(const char *body, size_t len, char *why,
                                               size_t whysize)
{
    unsigned long failed = item_json_alloc_failures();
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int bad;

    if (item_json_alloc_failures() != failed ||
        (root == NULL && json_error_code(&jerr) == json_error_out_of_memory)) {
        json_decref(root);
        snprintf(why, whysize, "out of memory");
        return REMOTE_RETRY;
    }
    bad = root == NULL || !json_is_object(root) ||
          !json_is_integer(json_object_get(root, "seq"));
    json_decref(root);
    if (!bad) { /* readable now: rendering it ran out of memory */
        snprintf(why, whysize, "out of memory");
        return REMOTE_RETRY;
    }
    snprintf(why, whysize, "the alert is not a JSON object with a seq");
    return REMOTE_FAIL;
}

/* Options every attempt shares. */
static void remote_common(struct remote *r, const char *protocols)
{
    long connect = r->c->timeout_s < REMOTE_CONNECT_TIMEOUT_S ? r->c->timeout_s
                                                              : REMOTE_CONNECT_TIMEOUT_S;

    curl_easy_reset(r->h);
    r->errbuf[0] = '\0';
    curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(r->h, CURLOPT_TIMEOUT, (long)r->c->timeout_s);
    curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, connect);
    curl_easy_setopt(r->h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(r->h, CURLOPT_XFERINFOFUNCTION, remote_progress);
    curl_easy_setopt(r->h, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, remote_discard);
}

/* The outcome of a failed curl_easy_perform. */
static enum remote_outcome remote_curl_failed(struct remote *r, CURLcode rc, char *why,
                                              size_t whysize)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK && atomic_load(r->stop)) {
        snprintf(why, whysize, "stopped");
        return REMOTE_ABORTED;
    }
    snprintf(why, whysize, "%s", r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc));
    return REMOTE_RETRY;
}

/* A header "Name: value" appended to *list; 0 or -1. */
static int remote_header(struct curl_slist **list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int remote_header(struct curl_slist **list, const char *fmt, ...)
{
    char line[1024];
    struct curl_slist *l;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if ((l = curl_slist_append(*list, line)) == NULL)
        return -1;
    *list = l;
    return 0;
}

/* A topic goes into a header as is when it is printable ASCII. */
static int remote_header_safe(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    }
    return 1;
}

static enum remote_outcome remote_webhook(struct remote *r, const char *topic, const char *body,
                                          size_t len, int64_t seq, long *retry_after_s,
                                          char *why, size_t whysize)
{
    const struct sink_conf *c = r->c;
    struct render_alert a;
    struct render_http http;
    struct curl_slist *hdr = NULL;
    enum remote_outcome out = REMOTE_RETRY;
    char *url = NULL, sig[65];
    int bad = 0;
    long code = 0;
    curl_off_t after = 0;
    CURLcode rc;

    if (render_parse(body, len, &a) != 0)
        return remote_parse_failed(body, len, why, whysize);
    if (render_webhook(c->tmpl, body, len, &a, &http) != 0 ||
        (url = render_url(c->url, seq)) == NULL) {
        render_alert_clear(&a);
        free(url);
        snprintf(why, whysize, "out of memory");
        return REMOTE_RETRY;
    }
    bad |= remote_header(&hdr, "Content-Type: %s", http.content_type);
    bad |= remote_header(&hdr, "Idempotency-Key: %" PRId64, seq);
    bad |= remote_header(&hdr, "X-Newsalert-Seq: %" PRId64, seq);
    bad |= remote_header(&hdr, "Expect:");
    if (remote_header_safe(topic) && strlen(topic) < 512)
        bad |= remote_header(&hdr, "X-Newsalert-Rule: %s", topic);
    for (size_t i = 0; i < http.nheaders; i++)
        bad |= remote_header(&hdr, "%s", http.headers[i]);
    for (size_t i = 0; i < c->nheaders; i++)
        bad |= remote_header(&hdr, "%s", c->headers[i]);
    if (c->secret != NULL) {
        if (render_hmac_hex(c->secret, http.body, http.len, sig) != 0)
            bad = -1;
        else
            bad |= remote_header(&hdr, "%s: sha256=%s", c->signature_header, sig);
    }
    if (bad != 0) {
        snprintf(why, whysize, "cannot build the request (out of memory)");
        goto out;
    }
    remote_common(r, "http,https");
    curl_easy_setopt(r->h, CURLOPT_URL, url);
    curl_easy_setopt(r->h, CURLOPT_USERAGENT, REMOTE_UA);
    curl_easy_setopt(r->h, CURLOPT_POST, 1L);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, http.body);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)http.len);
    if (strcmp(c->method, "POST") != 0)
        curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, hdr);
    rc = curl_easy_perform(r->h);
    if (rc != CURLE_OK) {
        out = remote_curl_failed(r, rc, why, whysize);
        goto out;
    }
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
        out = REMOTE_OK;
    } else if (code >= 500 || code == 408 || code == 429 || code == 401 || code == 403 ||
               code == 404) {
        /* the server or its configuration, not this alert: try again */
        if (curl_easy_getinfo(r->h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
            *retry_after_s = (long)after;
        snprintf(why, whysize, "HTTP %ld from %s", code, url);
        out = REMOTE_RETRY;
    } else {
        snprintf(why, whysize, "HTTP %ld from %s (the alert is refused)", code, url);
        out = REMOTE_FAIL;
    }
out:
    curl_slist_free_all(hdr);
    render_http_clear(&http);
    render_alert_clear(&a);
    free(url);
    return out;
}

static enum remote_outcome remote_email(struct remote *r, const char *body, size_t len,
                                        char *why, size_t whysize)
{
    static const long tls[] = {CURLUSESSL_ALL, CURLUSESSL_TRY, CURLUSESSL_NONE};
    const struct sink_conf *c = r->c;
    struct render_alert a;
    struct remote_upload up = {0};
    struct curl_slist *rcpt = NULL;
    enum remote_outcome out = REMOTE_RETRY;
    char *msg, from[1024];
    long code = 0;
    int bad = 0;
    CURLcode rc;

    if (render_parse(body, len, &a) != 0)
        return remote_parse_failed(body, len, why, whysize);
    msg = render_email(c, &a, time(NULL), &up.len);
    render_alert_clear(&a);
    if (msg == NULL) {
        snprintf(why, whysize, "out of memory");
        return REMOTE_RETRY;
    }
    up.p = msg;
    for (size_t i = 0; i < c->nto; i++)
        bad |= remote_header(&rcpt, "<%s>", c->to[i]);
    if (bad != 0) {
        snprintf(why, whysize, "out of memory");
        goto out;
    }
    snprintf(from, sizeof(from), "<%s>", c->from);
    remote_common(r, "smtp,smtps");
    curl_easy_setopt(r->h, CURLOPT_URL, c->url);
    curl_easy_setopt(r->h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(r->h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(r->h, CURLOPT_USE_SSL, tls[c->starttls]);
    if (c->username != NULL) {
        curl_easy_setopt(r->h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(r->h, CURLOPT_PASSWORD, c->password);
    }
    curl_easy_setopt(r->h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(r->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
    curl_easy_setopt(r->h, CURLOPT_READFUNCTION, remote_read);
    curl_easy_setopt(r->h, CURLOPT_READDATA, &up);
    rc = curl_easy_perform(r->h);
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) {
        out = REMOTE_OK;
    } else if (code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED) {
        snprintf(why, whysize, "SMTP %ld: %s (the message is refused)", code,
                 r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc));
        out = REMOTE_FAIL;
    } else {
        out = remote_curl_failed(r, rc, why, whysize);
        if (out == REMOTE_RETRY && code > 0) {
            size_t n = strlen(why);

            snprintf(why + n, whysize - n, " (SMTP %ld)", code);
        }
    }
out:
    curl_slist_free_all(rcpt);
    free(msg);
    return out;
}

enum remote_outcome remote_attempt(struct remote *r, const char *topic, const char *body,
                                   size_t len, int64_t seq, long *retry_after_s, char *why,
                                   size_t whysize)
{
    *retry_after_s = 0;
    why[0] = '\0';
    if (r->c->type == SINK_WEBHOOK)
        return remote_webhook(r, topic, body, len, seq, retry_after_s, why, whysize);
    return remote_email(r, body, len, why, whysize);
}

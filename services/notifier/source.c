/*
 * source.c - one sink's alert stream through libnewsalert-client (see
 * source.h and naclient.h).
 *
 * An alert the client hands out is checked here before the sink sees it;
 * when the check runs out of memory the alert is not judged bad (dropped,
 * and the sink's cursor would move past it) but held, and checked again at
 * the next call: the stream gives nothing after it until it passes.
 */
#include "source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <utf8proc.h>

#include "item.h"
#include "log.h"
#include "naclient.h"

#define SOURCE_ERROR_LOG_MS 10000 /* repeated client errors: one line per this */
#define SOURCE_NOMEM_WAIT_MS 100  /* a held alert is checked again this often */

struct source {
    struct naclient *client;
    char *name;
    char lasterr[256];
    unsigned long invalid; /* alerts the library passed that we refuse */
    struct naclient_alert held; /* out of memory checking it: checked again */
    int holding;
};

/* The library checks framing, sizes and the seq; the rest of what a sink
 * relies on is checked here: a topic of valid UTF-8 without control
 * characters, a body that is a JSON object with "v": 1.  Returns NULL when
 * the alert is good, else why not; *nomem is set when jansson ran out of
 * memory (the alert is then neither good nor bad). */
static const char *source_invalid(const char *topic, const char *body, size_t len, int *nomem)
{
    const utf8proc_uint8_t *t = (const utf8proc_uint8_t *)topic;
    utf8proc_ssize_t tl = (utf8proc_ssize_t)strlen(topic), i = 0;
    json_t *root, *v;
    json_error_t jerr;
    unsigned long failed;
    int ok;

    *nomem = 0;

    while (i < tl) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(t + i, tl - i, &cp);

        if (n <= 0)
            return "topic is not valid UTF-8";
        if (cp < 0x20 || cp == 0x7f)
            return "topic holds control characters";
        i += n;
    }
    failed = item_json_alloc_failures();
    root = json_loadb(body, len, 0, &jerr);
    if (item_json_alloc_failures() != failed ||
        (root == NULL && json_error_code(&jerr) == json_error_out_of_memory)) {
        json_decref(root);
        *nomem = 1;
        return "out of memory";
    }
    if (root == NULL)
        return "body is not valid JSON";
    v = json_object_get(root, "v");
    ok = json_is_object(root) && json_is_integer(v) && json_integer_value(v) == 1;
    json_decref(root);
    return ok ? NULL : "body is not an alert object with \"v\": 1";
}

int source_open(const struct config *cfg, const char *name, char *const *topics,
                size_t ntopics, int64_t after, struct source **out, na_error *err)
{
    struct source *s = calloc(1, sizeof(*s));
    struct naclient_opts o;
    char msg[512];

    *out = NULL;
    if (s == NULL || (s->name = strdup(name)) == NULL) {
        free(s);
        return na_error_set(err, 0, 0, "out of memory");
    }
    memset(&o, 0, sizeof(o));
    o.alerts_endpoint = cfg->alerts_endpoint;
    o.replay_endpoint = cfg->replay_endpoint;
    o.topics = (const char *const *)topics;
    o.ntopics = ntopics;
    o.since = after < 0 ? -1 : after;
    if (naclient_new(&o, &s->client, msg, sizeof(msg)) != 0) {
        na_error_set(err, 0, 0, "sink %s: cannot subscribe: %s", name, msg);
        source_free(&s);
        return -1;
    }
    *out = s;
    return 0;
}

int source_next(struct source *s, int timeout_ms, char **topic, char **body, int64_t *seq)
{
    struct naclient_alert a;
    int rc, again = s->holding;

    *topic = *body = NULL;
    if (s->holding) {
        a = s->held;
        memset(&s->held, 0, sizeof(s->held));
        s->holding = 0;
        rc = 1;
    } else {
        rc = naclient_next(s->client, timeout_ms, &a);
    }
    if (rc == 1) {
        int nomem;
        const char *why = source_invalid(a.topic, a.body, a.len, &nomem);

        if (nomem) {
            /* neither good nor bad: held, nothing after it goes first */
            if (!again)
                log_error("sink %s: alert %" PRId64 ": out of memory checking it, held and "
                          "checked again", s->name, a.seq);
            s->held = a;
            s->holding = 1;
            if (again && timeout_ms > 0) {
                int ms = timeout_ms < SOURCE_NOMEM_WAIT_MS ? timeout_ms : SOURCE_NOMEM_WAIT_MS;

                nanosleep(&(struct timespec){0, (long)ms * 1000000L}, NULL);
            }
            return 0;
        }
        if (why != NULL) {
            s->invalid++;
            log_warn("sink %s: alert %" PRId64 " dropped: %s", s->name, a.seq, why);
            naclient_alert_clear(&a);
            return 0;
        }
        *topic = a.topic;
        *body = a.body;
        *seq = a.seq;
        return 1;
    }
    if (rc == NACLIENT_TRUNCATED) {
        log_error("sink %s: alerts were lost: %s", s->name, naclient_errmsg(s->client));
        return 0;
    }
    if (rc < 0) {
        const char *m = naclient_errmsg(s->client);

        /* the client keeps trying: log each distinct error once */
        if (strncmp(m, s->lasterr, sizeof(s->lasterr) - 1) != 0) {
            log_warn("sink %s: alert stream: %s", s->name, m);
            snprintf(s->lasterr, sizeof(s->lasterr), "%s", m);
        }
    }
    return 0;
}

unsigned long source_bad(const struct source *s)
{
    struct naclient_stats st;

    naclient_get_stats(s->client, &st);
    return (unsigned long)st.bad + s->invalid;
}

int64_t source_position(const struct source *s)
{
    int64_t pos = naclient_position(s->client);

    /* the client has handed out the held alert; the sink has not seen it */
    if (s->holding && pos >= s->held.seq)
        pos = s->held.seq - 1;
    return pos;
}

void source_free(struct source **ps)
{
    struct source *s = *ps;

    if (s == NULL)
        return;
    naclient_destroy(&s->client);
    naclient_alert_clear(&s->held);
    free(s->name);
    free(s);
    *ps = NULL;
}

/*
 * source.c - one sink's alert stream through libnewsalert-client (see
 * source.h and naclient.h).
 */
#include "source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <utf8proc.h>

#include "log.h"
#include "naclient.h"

#define SOURCE_ERROR_LOG_MS 10000 /* repeated client errors: one line per this */

struct source {
    struct naclient *client;
    char *name;
    char lasterr[256];
    unsigned long invalid; /* alerts the library passed that we refuse */
};

/* The library checks framing, sizes and the seq; the rest of what a sink
 * relies on is checked here: a topic of valid UTF-8 without control
 * characters, a body that is a JSON object with "v": 1.  Returns NULL when
 * the alert is good, else why not. */
static const char *source_invalid(const char *topic, const char *body, size_t len)
{
    const utf8proc_uint8_t *t = (const utf8proc_uint8_t *)topic;
    utf8proc_ssize_t tl = (utf8proc_ssize_t)strlen(topic), i = 0;
    json_t *root, *v;
    int ok;

    while (i < tl) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(t + i, tl - i, &cp);

        if (n <= 0)
            return "topic is not valid UTF-8";
        if (cp < 0x20 || cp == 0x7f)
            return "topic holds control characters";
        i += n;
    }
    if ((root = json_loadb(body, len, 0, NULL)) == NULL)
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
    int rc = naclient_next(s->client, timeout_ms, &a);

    *topic = *body = NULL;
    if (rc == 1) {
        const char *why = source_invalid(a.topic, a.body, a.len);

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
    return naclient_position(s->client);
}

void source_free(struct source **ps)
{
    struct source *s = *ps;

    if (s == NULL)
        return;
    naclient_destroy(&s->client);
    free(s->name);
    free(s);
    *ps = NULL;
}

/*
 * naclient.c - libnewsalert-client (see naclient.h and README "Durable
 * delivery" for the protocol).
 *
 * State: `cursor` is the coverage point: every matching alert with
 * seq <= cursor has been returned to the application or sits in the
 * `ready` queue (in seq order).  Live alerts with seq == cursor + 1 go
 * straight to `ready`; a live alert further ahead (a gap: lost alerts, or
 * other topics' alerts) waits in `pending` while a replay (after = cursor)
 * fills the gap; replayed alerts advance the cursor, and the replay's end
 * marker moves it to `last`.  Pending alerts at or below the cursor are
 * then duplicates.  A heartbeat whose head is beyond the cursor starts a
 * replay too.  Only one replay request is outstanding at a time; replies
 * carry the request id and stale ones are ignored.
 *
 * Out of memory never moves the cursor past an alert: the cursor moves
 * only once the alert is in `ready`.  A live alert that cannot be kept is
 * a gap like any other (a replay brings it); a replayed one that cannot be
 * kept ends the replay where it stands (its later replies are ignored) and
 * the request goes again soon, after the cursor.  So is a replay reply
 * that cannot be read: it may have been part of the answer.
 *
 * This file depends on libzmq and jansson only (not on the newsalert
 * common library): it is built into the installable libnewsalert-client.
 */
#include "naclient.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#define NAC_HEARTBEAT_TOPIC "\x01heartbeat"
#define NAC_MAX_TOPIC 256
#define NAC_MAX_BODY (256 * 1024)
#define NAC_MAX_FRAMES 1024
#define NAC_MAX_PENDING 100000
#define NAC_REPLAY_TIMEOUT_MS 3000
#define NAC_RETRY_MS 50 /* a request that could not be sent goes again this soon */
#define NAC_BURST 2000 /* messages taken per socket per wake-up */
/* The matcher sends a heartbeat every second: after this long without
 * anything on the SUB socket, the connection is re-made and a replay asks
 * what was missed.  (The SUB socket has no ZMTP heartbeat: with libzmq
 * 4.3.4 a SUB whose receive queue is full aborts when a heartbeat write
 * fails, zeromq/libzmq#4364 and #4767; the DEALER has it.) */
#define NAC_SILENCE_MS 5000

struct nac_msg {
    int64_t seq;
    char *topic;
    char *body;
    size_t len;
};

/* A FIFO of messages. */
struct nac_queue {
    struct nac_msg *v;
    size_t start, end, cap;
};

struct naclient {
    void *ctx;
    void *sub;
    void *dealer;
    char **topics;
    size_t ntopics;
    char *cursor_path;
    char *alerts_endpoint;
    int64_t heard_ms; /* when the SUB socket last gave a message */
    int cursor_fsync;
    int replay_timeout_ms;
    int64_t cursor;   /* coverage point, -1 unknown */
    int64_t returned; /* seq of the alert last returned (or the start position) */
    int64_t saved;    /* position last written to the cursor file */
    int64_t head;     /* newest seq known journaled, -1 unknown */
    int64_t req_id;
    int replay_active;
    int64_t replay_sent_ms;
    int64_t retry_at_ms; /* after an error reply: do not ask before this */
    int started;         /* the first request went out */
    int truncated;       /* report NACLIENT_TRUNCATED at the next call */
    int failed;          /* report -1 at the next call */
    struct nac_queue ready;
    struct nac_queue pending;
    struct naclient_stats stats;
    char errmsg[512];
};

static int64_t nac_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nac_error(struct naclient *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
}

static void nac_msg_free(struct nac_msg *m)
{
    free(m->topic);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

static size_t nac_queue_len(const struct nac_queue *q)
{
    return q->end - q->start;
}

static struct nac_msg *nac_queue_front(struct nac_queue *q)
{
    return q->start < q->end ? &q->v[q->start] : NULL;
}

/* Append *m (taken: zeroed).  Returns 0 or -1 (out of memory, m freed). */
static int nac_queue_push(struct nac_queue *q, struct nac_msg *m)
{
    if (q->end == q->cap) {
        if (q->start > 0) {
            memmove(q->v, q->v + q->start, (q->end - q->start) * sizeof(*q->v));
            q->end -= q->start;
            q->start = 0;
        }
        if (q->end == q->cap) {
            size_t ncap = q->cap == 0 ? 256 : q->cap * 2;
            struct nac_msg *nv = realloc(q->v, ncap * sizeof(*nv));

            if (nv == NULL) {
                nac_msg_free(m);
                return -1;
            }
            q->v = nv;
            q->cap = ncap;
        }
    }
    q->v[q->end++] = *m;
    memset(m, 0, sizeof(*m));
    return 0;
}

/* Remove the front into *out (owned by the caller). */
static void nac_queue_pop(struct nac_queue *q, struct nac_msg *out)
{
    *out = q->v[q->start++];
    if (q->start == q->end)
        q->start = q->end = 0;
}

static void nac_queue_free(struct nac_queue *q)
{
    for (size_t i = q->start; i < q->end; i++)
        nac_msg_free(&q->v[i]);
    free(q->v);
    memset(q, 0, sizeof(*q));
}

/* The seq of an alert body (a JSON object with an integer seq >= 1), -1,
 * or -2 when jansson says it ran out of memory.  (jansson 2.14 reports
 * some of its failed allocations as a syntax error: a body not in the
 * matcher's form below may then be taken for a bad one.  An application's
 * jansson allocator is its own, so the library does not replace it.)
 *
 * The matcher writes every body as {"v":1,"seq": then jansson's text of
 * the seq, then "," and the rest (alert.h).  Such a body is recognised,
 * not parsed: the digits after that prefix are a candidate (strtoll), and
 * the candidate counts only when jansson's own text of it is those very
 * digits, followed by ','; the rest is checked only for ending the
 * object, as the application parses the body anyway.  Any other body is
 * parsed by jansson. */
static int64_t nac_body_seq(const char *body, size_t len)
{
    static const char prefix[] = "{\"v\":1,\"seq\":";
    const size_t np = sizeof(prefix) - 1;
    json_error_t jerr;
    json_t *root, *seq;
    int64_t v = -1;

    if (len > np + 2 && memcmp(body, prefix, np) == 0 && body[len - 1] == '}' &&
        body[np] >= '0' && body[np] <= '9') {
        char digits[24], text[32];
        size_t nd = 0, got;
        long long cand;
        char *end;
        json_t *num;

        while (np + nd < len && nd < sizeof(digits) - 1 && body[np + nd] >= '0' &&
               body[np + nd] <= '9')
            nd++;
        if (np + nd < len && body[np + nd] == ',' && nd < sizeof(digits) - 1) {
            memcpy(digits, body + np, nd);
            digits[nd] = '\0';
            errno = 0;
            cand = strtoll(digits, &end, 10); /* a candidate: jansson decides */
            num = errno == 0 && *end == '\0' ? json_integer((json_int_t)cand) : NULL;
            got = num != NULL ? json_dumpb(num, text, sizeof(text), JSON_ENCODE_ANY) : 0;
            json_decref(num);
            /* "007" is no JSON number: jansson writes 7 */
            if (got == nd && memcmp(text, digits, nd) == 0 && cand > 0)
                return (int64_t)cand;
        }
    }
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL)
        return json_error_code(&jerr) == json_error_out_of_memory ? -2 : -1;
    seq = json_object_get(root, "seq");
    if (json_is_object(root) && json_is_integer(seq) && json_integer_value(seq) > 0)
        v = (int64_t)json_integer_value(seq);
    json_decref(root);
    return v;
}

/* ---- the cursor file ---- */

static int nac_cursor_read(struct naclient *c, int64_t *out)
{
    char buf[64], *end;
    FILE *f = fopen(c->cursor_path, "r");
    size_t n;
    long long v;

    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        nac_error(c, "%s: cannot read the cursor: %s", c->cursor_path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (n == 0 || end == buf || *end != '\0' || errno != 0 || v < 0) {
        nac_error(c, "%s: not a cursor file (expected a seq >= 0)", c->cursor_path);
        return -1;
    }
    *out = (int64_t)v;
    return 1;
}

static int nac_cursor_write(struct naclient *c, int64_t pos)
{
    char tmp[4200], line[32];
    int fd, n, len;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", c->cursor_path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        nac_error(c, "cursor path too long");
        return -1;
    }
    len = snprintf(line, sizeof(line), "%" PRId64 "\n", pos);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        int ok = write(fd, line, (size_t)len) == len && (!c->cursor_fsync || fsync(fd) == 0);

        if (close(fd) != 0 || !ok)
            fd = -1;
    }
    if (fd < 0 || rename(tmp, c->cursor_path) != 0) {
        nac_error(c, "%s: cannot write the cursor: %s", c->cursor_path, strerror(errno));
        /* Reported once per position: delivery goes on (a restart would
         * deliver again, never skip). */
        c->saved = pos;
        return -1;
    }
    c->saved = pos;
    return 0;
}

/* The position to persist: when nothing waits in `ready`, everything up to
 * the cursor is finished; otherwise up to the alert last returned. */
static int64_t nac_finished(const struct naclient *c)
{
    return nac_queue_len(&c->ready) == 0 ? c->cursor : c->returned;
}

int naclient_commit(struct naclient *c)
{
    int64_t pos = nac_finished(c);

    if (c->cursor_path == NULL || pos < 0 || pos == c->saved)
        return 0;
    return nac_cursor_write(c, pos);
}

int64_t naclient_position(const struct naclient *c)
{
    return nac_finished(c);
}

int64_t naclient_head(const struct naclient *c)
{
    return c->head;
}

const char *naclient_errmsg(const struct naclient *c)
{
    return c->errmsg;
}

void naclient_get_stats(const struct naclient *c, struct naclient_stats *out)
{
    *out = c->stats;
}

void naclient_alert_clear(struct naclient_alert *a)
{
    if (a == NULL)
        return;
    free(a->topic);
    free(a->body);
    memset(a, 0, sizeof(*a));
}

/* ---- set-up ---- */

static void nac_set_heartbeat(void *s)
{
    int ivl = 1000, timeout = 5000;

    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout));
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &timeout, sizeof(timeout));
}

int naclient_new(const struct naclient_opts *o, struct naclient **out, char *errbuf,
                 size_t errlen)
{
    struct naclient *c;
    int linger = 0, one = 1;
    int64_t maxmsg = 16LL * 1024 * 1024, start = -1;
    size_t i;

    *out = NULL;
    if (o->alerts_endpoint == NULL || o->replay_endpoint == NULL) {
        if (errlen > 0)
            snprintf(errbuf, errlen, "alerts_endpoint and replay_endpoint are required");
        return -1;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        if (errlen > 0)
            snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    c->cursor = c->returned = c->saved = c->head = -1;
    c->cursor_fsync = o->cursor_fsync;
    c->replay_timeout_ms = o->replay_timeout_ms > 0 ? o->replay_timeout_ms
                                                    : NAC_REPLAY_TIMEOUT_MS;
    for (i = 0; i < o->ntopics; i++) {
        if (strlen(o->topics[i]) > NAC_MAX_TOPIC) {
            nac_error(c, "topic prefix %zu is longer than %d bytes", i + 1, NAC_MAX_TOPIC);
            goto fail;
        }
        if (o->topics[i][0] == '\0') { /* "" wants everything: no filter at all */
            for (size_t k = 0; k < c->ntopics; k++)
                free(c->topics[k]);
            c->ntopics = 0;
            break;
        }
        if (c->topics == NULL && (c->topics = calloc(o->ntopics, sizeof(char *))) == NULL)
            goto oom;
        if ((c->topics[c->ntopics] = strdup(o->topics[i])) == NULL)
            goto oom;
        c->ntopics++;
    }
    if (o->cursor_path != NULL && (c->cursor_path = strdup(o->cursor_path)) == NULL)
        goto oom;
    if (o->since < -1) {
        nac_error(c, "since must be -1 (from now) or a seq >= 0");
        goto fail;
    }
    start = o->since;
    if (c->cursor_path != NULL) {
        int rc = nac_cursor_read(c, &start);

        if (rc < 0)
            goto fail;
        if (rc == 0)
            start = o->since;
        else
            c->saved = start;
    }
    c->cursor = c->returned = start;
    if ((c->ctx = zmq_ctx_new()) == NULL || (c->sub = zmq_socket(c->ctx, ZMQ_SUB)) == NULL ||
        (c->dealer = zmq_socket(c->ctx, ZMQ_DEALER)) == NULL) {
        nac_error(c, "cannot create ZeroMQ sockets: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    zmq_setsockopt(c->sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(c->dealer, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(c->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(c->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(c->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
    if (o->rcvhwm > 0)
        zmq_setsockopt(c->sub, ZMQ_RCVHWM, &o->rcvhwm, sizeof(o->rcvhwm));
    nac_set_heartbeat(c->dealer);
    if ((c->alerts_endpoint = strdup(o->alerts_endpoint)) == NULL)
        goto oom;
    c->heard_ms = nac_ms();
    zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, NAC_HEARTBEAT_TOPIC, strlen(NAC_HEARTBEAT_TOPIC));
    if (c->ntopics == 0)
        zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "", 0);
    for (i = 0; i < c->ntopics; i++)
        zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, c->topics[i], strlen(c->topics[i]));
    /* Subscribe first, then replay the gap. */
    if (zmq_connect(c->sub, o->alerts_endpoint) != 0) {
        nac_error(c, "cannot connect to %s: %s", o->alerts_endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_connect(c->dealer, o->replay_endpoint) != 0) {
        nac_error(c, "cannot connect to %s: %s", o->replay_endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    *out = c;
    return 0;
oom:
    nac_error(c, "out of memory");
fail:
    if (errlen > 0)
        snprintf(errbuf, errlen, "%s", c->errmsg);
    naclient_destroy(&c);
    return -1;
}

void naclient_destroy(struct naclient **pc)
{
    struct naclient *c;

    if (pc == NULL || *pc == NULL)
        return;
    c = *pc;
    *pc = NULL;
    if (c->cursor_path != NULL && c->sub != NULL)
        naclient_commit(c);
    if (c->sub != NULL)
        zmq_close(c->sub);
    if (c->dealer != NULL)
        zmq_close(c->dealer);
    if (c->ctx != NULL)
        zmq_ctx_term(c->ctx);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    free(c->cursor_path);
    free(c->alerts_endpoint);
    nac_queue_free(&c->ready);
    nac_queue_free(&c->pending);
    free(c);
}

/* ---- replay ---- */

/* Send a replay request after the cursor (or a head request while the
 * position is unknown).  A failure (not connected yet) is retried when the
 * request times out. */
static void nac_request(struct naclient *c)
{
    json_t *req, *topics;
    char *s;
    size_t i;

    c->req_id++;
    if (c->cursor < 0) {
        req = json_pack("{s:i,s:s,s:I}", "v", 1, "op", "head", "id", (json_int_t)c->req_id);
    } else {
        topics = json_array();
        for (i = 0; topics != NULL && i < c->ntopics; i++)
            json_array_append_new(topics, json_string(c->topics[i]));
        req = json_pack("{s:i,s:s,s:I,s:I,s:o}", "v", 1, "op", "replay", "id",
                        (json_int_t)c->req_id, "after", (json_int_t)c->cursor, "topics",
                        topics);
    }
    s = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    c->replay_active = 1;
    c->replay_sent_ms = nac_ms();
    if (s != NULL && zmq_send(c->dealer, s, strlen(s), ZMQ_DONTWAIT) >= 0)
        c->stats.replays++;
    else /* not connected yet: try again soon rather than after the timeout */
        c->replay_sent_ms -= c->replay_timeout_ms - NAC_RETRY_MS;
    free(s);
}

/* Move pending live alerts that now follow the cursor to `ready`, drop
 * those at or below it; a remaining gap starts a replay. */
static void nac_settle(struct naclient *c)
{
    struct nac_msg *m;
    struct nac_msg tmp;

    while ((m = nac_queue_front(&c->pending)) != NULL) {
        if (m->seq <= c->cursor) {
            nac_queue_pop(&c->pending, &tmp);
            nac_msg_free(&tmp);
            c->stats.duplicates++;
        } else if (m->seq == c->cursor + 1) {
            int64_t seq = m->seq;

            nac_queue_pop(&c->pending, &tmp);
            /* out of memory: the alert is dropped below the cursor, a gap
             * the replay started below fills */
            if (nac_queue_push(&c->ready, &tmp) != 0)
                break;
            c->cursor = seq;
            c->stats.live++;
        } else {
            break;
        }
    }
    if (!c->replay_active && nac_ms() >= c->retry_at_ms &&
        (nac_queue_len(&c->pending) > 0 || (c->cursor >= 0 && c->head > c->cursor)))
        nac_request(c);
}

/* Receive a whole message into frames[] (at most max; the rest are
 * drained).  Returns the number of frames, 0 when nothing came. */
static size_t nac_recv(void *sock, zmq_msg_t *frames, size_t max, size_t *total)
{
    size_t n = 0;
    int more = 1;
    size_t more_size;

    *total = 0;
    while (more) {
        zmq_msg_t *f, scratch;

        f = n < max ? &frames[n] : &scratch;
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, *total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(f);
            if (*total == 0)
                return 0;
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        (*total)++;
        if (f == &scratch)
            zmq_msg_close(f);
        else
            n++;
        more = 0;
        more_size = sizeof(more);
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_size);
    }
    return n;
}

static void nac_close_frames(zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

/* An alert from topic and body frames, checked.  Returns 0, -1 (a bad
 * alert) or -2 (out of memory; m->seq is the alert's seq when it could be
 * read, else -1). */
static int nac_make_msg(zmq_msg_t *tf, zmq_msg_t *bf, struct nac_msg *m)
{
    size_t tl = zmq_msg_size(tf), bl = zmq_msg_size(bf);
    int64_t seq;

    memset(m, 0, sizeof(*m));
    if (tl == 0 || tl > NAC_MAX_TOPIC || bl > NAC_MAX_BODY ||
        memchr(zmq_msg_data(tf), '\0', tl) != NULL || memchr(zmq_msg_data(bf), '\0', bl) != NULL)
        return -1;
    if ((seq = nac_body_seq(zmq_msg_data(bf), bl)) < 0) {
        m->seq = -1;
        return (int)seq;
    }
    m->topic = malloc(tl + 1);
    m->body = malloc(bl + 1);
    if (m->topic == NULL || m->body == NULL) {
        nac_msg_free(m);
        m->seq = seq;
        return -2;
    }
    m->seq = seq;
    memcpy(m->topic, zmq_msg_data(tf), tl);
    m->topic[tl] = '\0';
    memcpy(m->body, zmq_msg_data(bf), bl);
    m->body[bl] = '\0';
    m->len = bl;
    return 0;
}

static int nac_topic_wanted(const struct naclient *c, const char *topic)
{
    if (c->ntopics == 0)
        return 1;
    for (size_t i = 0; i < c->ntopics; i++)
        if (strncmp(topic, c->topics[i], strlen(c->topics[i])) == 0)
            return 1;
    return 0;
}

static void nac_on_heartbeat(struct naclient *c, zmq_msg_t *bf)
{
    json_t *root = json_loadb(zmq_msg_data(bf), zmq_msg_size(bf), 0, NULL);
    json_t *head = json_object_get(root, "head");

    if (!json_is_integer(head) || json_integer_value(head) < 0) {
        c->stats.bad++;
        json_decref(root);
        return;
    }
    if ((int64_t)json_integer_value(head) > c->head)
        c->head = (int64_t)json_integer_value(head);
    json_decref(root);
    if (c->cursor < 0 && c->head >= 0)
        c->cursor = c->returned = c->head; /* from now on */
    nac_settle(c);
}

/* Take one message from the SUB socket.  Returns 0 when none was
 * waiting. */
static int nac_on_live(struct naclient *c)
{
    zmq_msg_t frames[2];
    size_t n, total;
    struct nac_msg m;
    int rc;

    n = nac_recv(c->sub, frames, 2, &total);
    if (total == 0)
        return 0;
    c->heard_ms = nac_ms();
    if (total != 2) {
        c->stats.bad++;
        nac_close_frames(frames, n);
        return 1;
    }
    if (zmq_msg_size(&frames[0]) == strlen(NAC_HEARTBEAT_TOPIC) &&
        memcmp(zmq_msg_data(&frames[0]), NAC_HEARTBEAT_TOPIC, strlen(NAC_HEARTBEAT_TOPIC)) == 0) {
        nac_on_heartbeat(c, &frames[1]);
        nac_close_frames(frames, 2);
        return 1;
    }
    if ((rc = nac_make_msg(&frames[0], &frames[1], &m)) != 0) {
        nac_close_frames(frames, 2);
        if (rc == -1) {
            c->stats.bad++;
        } else if (m.seq >= 0) {
            /* out of memory: a gap the replay fills (the seq is known; when
             * it was the first alert, "from now on" starts before it) */
            if (c->cursor < 0)
                c->cursor = c->returned = m.seq - 1;
            if (m.seq > c->head)
                c->head = m.seq;
            nac_settle(c);
        }
        return 1;
    }
    nac_close_frames(frames, 2);
    if (m.seq > c->head)
        c->head = m.seq;
    if (c->cursor < 0)
        c->cursor = c->returned = m.seq - 1; /* from now on */
    if (m.seq <= c->cursor) {
        c->stats.duplicates++;
        nac_msg_free(&m);
    } else if (m.seq == c->cursor + 1 && !c->replay_active &&
               nac_queue_len(&c->pending) == 0) {
        int64_t seq = m.seq;

        if (nac_queue_push(&c->ready, &m) == 0) {
            c->cursor = seq;
            c->stats.live++;
        } else {
            nac_settle(c); /* out of memory: the gap (head > cursor) is replayed */
        }
    } else if (nac_queue_len(&c->pending) < NAC_MAX_PENDING) {
        nac_queue_push(&c->pending, &m); /* a replay will tell */
        nac_settle(c);
    } else {
        nac_msg_free(&m); /* the replay will bring it */
        nac_settle(c);
    }
    return 1;
}

static json_t *nac_header(zmq_msg_t *f)
{
    json_t *root = json_loadb(zmq_msg_data(f), zmq_msg_size(f), 0, NULL), *v;

    v = json_object_get(root, "v");
    if (!json_is_object(root) || !json_is_integer(v) || json_integer_value(v) != 1) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static int64_t nac_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* Give up the replay request in flight where it stands: its later replies
 * (an "end" would move the cursor past what was not taken) are stale from
 * now on, and it is asked again, after the cursor, in retry_ms. */
static void nac_replay_again(struct naclient *c, int64_t retry_ms)
{
    c->req_id++;
    c->replay_sent_ms = nac_ms() - c->replay_timeout_ms + retry_ms;
}

/* Take one message from the replay socket.  Returns 0 when none was
 * waiting. */
static int nac_on_replay(struct naclient *c)
{
    zmq_msg_t *frames = malloc(NAC_MAX_FRAMES * sizeof(*frames));
    size_t n, total = 0, i;
    json_t *hdr = NULL;
    const char *type;

    if (frames == NULL)
        return 0;
    n = nac_recv(c->dealer, frames, NAC_MAX_FRAMES, &total);
    if (n == 0)
        goto out;
    if ((hdr = nac_header(&frames[0])) == NULL || nac_int(hdr, "id") != c->req_id ||
        !c->replay_active) {
        if (hdr == NULL) {
            c->stats.bad++;
            /* unreadable (bad, or jansson out of memory): it may have been
             * a batch of the request in flight, so that request is given up
             * and asked again when it times out */
            if (c->replay_active)
                nac_replay_again(c, c->replay_timeout_ms);
        }
        goto out; /* bad, or a reply to a request we gave up on */
    }
    type = json_string_value(json_object_get(hdr, "type"));
    if (type == NULL) {
        c->stats.bad++;
    } else if (strcmp(type, "batch") == 0) {
        if (n != total || n % 2 != 1 || (int64_t)(n / 2) != nac_int(hdr, "count")) {
            c->stats.bad++;
            nac_replay_again(c, c->replay_timeout_ms); /* the "end" must not count */
            goto out;
        }
        c->replay_sent_ms = nac_ms(); /* progress: the timeout starts again */
        for (i = 1; i + 1 < n; i += 2) {
            struct nac_msg m;
            int64_t seq;
            int rc = nac_make_msg(&frames[i], &frames[i + 1], &m);

            if (rc == -1) { /* a bad alert is skipped: sending it again cannot help */
                c->stats.bad++;
                continue;
            }
            if ((rc == 0 && (m.seq <= c->cursor || !nac_topic_wanted(c, m.topic))) ||
                (rc == -2 && m.seq >= 0 && m.seq <= c->cursor)) {
                c->stats.duplicates++;
                nac_msg_free(&m);
                continue;
            }
            seq = m.seq;
            if (rc != 0 || nac_queue_push(&c->ready, &m) != 0) {
                /* out of memory: the cursor stays before this alert */
                nac_replay_again(c, NAC_RETRY_MS);
                break;
            }
            c->cursor = seq;
            c->stats.replayed++;
        }
    } else if (strcmp(type, "end") == 0) {
        int64_t last = nac_int(hdr, "last"), head = nac_int(hdr, "head");

        if (head > c->head)
            c->head = head;
        if (c->cursor < 0)
            c->cursor = c->returned = head; /* op head: from now on */
        else if (last > c->cursor)
            c->cursor = last;
        c->replay_active = 0;
        nac_settle(c);
    } else if (strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(hdr, "code"));
        const char *msg = json_string_value(json_object_get(hdr, "message"));
        int64_t oldest = nac_int(hdr, "oldest");

        c->replay_active = 0;
        if (code != NULL && strcmp(code, "truncated") == 0 && oldest > c->cursor + 1) {
            nac_error(c, "alerts %" PRId64 " to %" PRId64 " were pruned by the matcher: "
                      "truncated, oldest is %" PRId64, c->cursor + 1, oldest - 1, oldest);
            c->cursor = c->returned = oldest - 1;
            c->truncated = 1;
            nac_settle(c);
        } else {
            nac_error(c, "replay refused: %s", msg != NULL ? msg : "no reason given");
            c->failed = 1;
            c->retry_at_ms = nac_ms() + c->replay_timeout_ms;
        }
    } else {
        c->stats.bad++;
    }
out:
    json_decref(hdr);
    nac_close_frames(frames, n);
    free(frames);
    return total > 0;
}

int naclient_next(struct naclient *c, int timeout_ms, struct naclient_alert *out)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : nac_ms() + timeout_ms;

    memset(out, 0, sizeof(*out));
    if (naclient_commit(c) != 0)
        return -1;
    if (!c->started) {
        c->started = 1;
        nac_request(c); /* replay the gap from the start position, or ask the head */
    }
    for (;;) {
        zmq_pollitem_t pi[2] = {{c->sub, 0, ZMQ_POLLIN, 0}, {c->dealer, 0, ZMQ_POLLIN, 0}};
        int64_t now, wait;
        int k;

        if (c->truncated) {
            c->truncated = 0;
            return NACLIENT_TRUNCATED;
        }
        if (c->failed) {
            c->failed = 0;
            return -1;
        }
        if (nac_queue_len(&c->ready) > 0) {
            struct nac_msg m;

            nac_queue_pop(&c->ready, &m);
            c->returned = m.seq;
            out->seq = m.seq;
            out->topic = m.topic;
            out->body = m.body;
            out->len = m.len;
            return 1;
        }
        now = nac_ms();
        if (now - c->heard_ms >= NAC_SILENCE_MS) {
            /* Not even a heartbeat: the connection may be dead without the
             * kernel knowing.  Make it again and ask what was missed. */
            zmq_disconnect(c->sub, c->alerts_endpoint);
            zmq_connect(c->sub, c->alerts_endpoint);
            c->heard_ms = now;
            if (!c->replay_active)
                nac_request(c);
        }
        if (c->replay_active && now - c->replay_sent_ms >= c->replay_timeout_ms)
            nac_request(c); /* no answer: ask again */
        else if (!c->replay_active)
            nac_settle(c);
        if (now >= deadline)
            return 0;
        wait = deadline - now;
        if (c->replay_active && c->replay_sent_ms + c->replay_timeout_ms - now < wait)
            wait = c->replay_sent_ms + c->replay_timeout_ms - now;
        if (!c->replay_active && c->retry_at_ms > now && c->retry_at_ms - now < wait)
            wait = c->retry_at_ms - now;
        if (c->heard_ms + NAC_SILENCE_MS - now < wait)
            wait = c->heard_ms + NAC_SILENCE_MS - now;
        if (wait < 0)
            wait = 0;
        if (zmq_poll(pi, 2, (long)wait) < 0) {
            if (zmq_errno() == EINTR) {
                nac_error(c, "interrupted");
                return 0;
            }
            nac_error(c, "poll failed: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        for (k = 0; k < NAC_BURST && nac_on_replay(c); k++)
            ;
        for (k = 0; k < NAC_BURST && nac_on_live(c); k++)
            ;
    }
}

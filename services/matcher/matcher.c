/*
 * matcher.c - the matcher daemon's work (see matcher.h).
 *
 * Items arrive on a ROUTER socket (items_endpoint) through the hand-off
 * protocol of wire.h: each carries the sender's tag, to be acknowledged.
 * Items are taken in groups: the items of a group are decoded and matched
 * on matcher.threads threads (matchpool.h; the rule index of ruleset.h
 * makes each item cost only the rules that may match it); then, item by
 * item in the order they came, the item's key (feed, id) is recorded as
 * processed and each of its matches is given the next journal position
 * (its seq); the alert bodies are built on the threads too, then appended
 * to the journal (journal.h) in seq order.  Only when the group is committed
 * (fsynced) are its alerts published on the PUB socket and its items
 * acknowledged, so nothing is acknowledged that a crash could lose, and an
 * item sent again (after a lost ack) is recognised and produces no alert.
 *
 * Appending the alerts and the commit (writing the group's pages to the WAL
 * and waiting for the fsync) run on a thread of their own, the committer,
 * so that under load the next group is received, decoded and matched
 * meanwhile: group N+1 touches the journal (its item keys, seqs and
 * alerts) only once group N's commit has ended and N's alerts are
 * published and its items acknowledged - or, when the commit failed, N is
 * rolled back and dropped (its items come again).  When no item is
 * waiting the commit is waited for at once, and before anything else
 * reads the journal (heartbeat, replay, pruning, a reload).
 *
 * Running out of memory is not a bad message: a bad item message is
 * acknowledged and dropped (sending it again cannot help), but an item
 * that could not be received or decoded for want of memory (WIRE_ENOMEM)
 * fails its whole group like a failed commit: nothing of the group is
 * acknowledged, so every item of it comes again from the sender's outbox.
 *
 * The replay endpoint (ROUTER) answers "alerts after seq N for these topic
 * prefixes" from the journal in bounded batches; once a second a heartbeat
 * with the journal head goes out on the PUB socket.  Bad frames on either
 * ROUTER are logged, counted and dropped.  The rule set is reloaded on
 * SIGHUP and when inotify sees the rules file or directory change
 * (rulewatch.h): the new set is compiled beside the old one and swapped
 * only when it loaded completely, between two groups, so every item is
 * matched against exactly one set; a bad new set is logged and the old one
 * stays in force.  Every alert carries `matched` (the terms that hit and a
 * snippet).
 */
#include "matcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "alert.h"
#include "daemon.h"
#include "journal.h"
#include "log.h"
#include "matchpool.h"
#include "ruleset.h"
#include "rulewatch.h"
#include "wire.h"

#define MATCHER_LINGER_MS 2000
#define MATCHER_HEARTBEAT_MS 1000
#define MATCHER_PRUNE_S 60
#define MATCHER_GROUP_MAX 512          /* items per journal commit */
#define MATCHER_REPLAY_BATCH 256       /* alerts per replay batch message */
#define MATCHER_REPLAY_BATCH_BYTES (512 * 1024)
#define MATCHER_REPLAY_BATCHES 8       /* batch messages per replay request */
#define MATCHER_REPLAY_SCAN 20000      /* journal rows examined per batch */
#define MATCHER_REPLAY_HWM 1000        /* messages queued per replay client */
/* Alerts queued per subscriber, and the kernel send buffer under them: a
 * subscriber that falls further behind loses live alerts and gets them
 * back by replay, without holding memory here or slowing the others. */
#define MATCHER_PUB_HWM 10000
#define MATCHER_PUB_SNDBUF (256 * 1024)
#define MATCHER_PUB_KEEPALIVE_IDLE_S 30

/* An alert of the open group.  Its topic is the rule's id, borrowed: the
 * rule set changes only between groups. */
struct matcher_alert {
    const char *topic;
    char *body;
    size_t len;
    int64_t seq;
    size_t item;  /* index in the group */
    size_t match; /* index among the item's matches */
};

struct matcher_ack {
    struct wire_peer peer;
    int64_t tag;
};

/* An item of the open group, received and waiting to be matched. */
struct matcher_pending {
    struct wire_peer peer;
    int64_t tag;
    char *json;      /* the item as received (JSON or packed), until decoded */
    size_t len;
    int enc;         /* its encoding (wire.h, enum wire_item_enc) */
    struct item *it; /* once decoded; NULL: a bad message, only acknowledged */
    int bad;         /* it could not be decoded: err says why */
    int nomem;       /* out of memory receiving or decoding it: err says where;
                        the group fails (nothing acknowledged) */
    na_error err;
    size_t first_alert, nalerts; /* its alerts in the group's alerts_q */
};

/* The thread that commits a group while the next one is matched. */
struct matcher_committer {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
    int quit;
    int todo;  /* a commit was asked for */
    int done;  /* and has ended, with rc */
    int rc;
    struct matcher *m;
};

struct matcher {
    const struct config *cfg;
    struct ruleset *rules;
    struct alert_rules *rule_parts; /* each rule's alert "rule" part, built once */
    struct rulewatch *watch; /* inotify on the rules; NULL when unavailable */
    struct matchpool *pool;  /* matcher.threads matching threads */
    struct matcher_pending pending[MATCHER_GROUP_MAX];
    struct item *pitems[MATCHER_GROUP_MAX];
    size_t npending;
    size_t alerting[MATCHER_GROUP_MAX]; /* the items of the group with alerts */
    size_t nalerting;
    struct journal *journal;
    void *zctx;
    void *items;  /* ROUTER, items_endpoint */
    void *pub;    /* PUB, alerts_endpoint */
    void *replay; /* ROUTER, replay_endpoint */
    /* the open group: alerts to publish and items to ack after commit */
    struct matcher_alert *alerts_q;
    size_t nalerts_q, calerts_q;
    struct matcher_ack *acks_q;
    size_t nacks_q, cacks_q;
    int in_group;
    int committing; /* the open group's commit was started (committer) */
    struct matcher_committer committer;
    int64_t now;
    /* counters */
    unsigned long nitems;
    unsigned long dups;
    unsigned long alerts;
    unsigned long bad;
    unsigned long replays;
    unsigned long bad_replays;
};

static int64_t matcher_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *bind_socket(struct matcher *m, int type, const char *endpoint, int hwm,
                         int64_t maxmsg, na_error *err)
{
    int linger = MATCHER_LINGER_MS, one = 1;
    void *s = zmq_socket(m->zctx, type);

    if (s == NULL) {
        na_error_set(err, 0, 0, "cannot create socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (maxmsg > 0)
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (type == ZMQ_ROUTER)
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    if (type == ZMQ_PUB) {
        int sndbuf = MATCHER_PUB_SNDBUF, idle = MATCHER_PUB_KEEPALIVE_IDLE_S, intvl = 10,
            cnt = 3;

        zmq_setsockopt(s, ZMQ_SNDBUF, &sndbuf, sizeof(sndbuf));
        /* No ZMTP heartbeat on the PUB: it would drop a subscriber whose
         * process is stopped (SIGSTOP, a suspended laptop, a debugger) after
         * 5 s, and libzmq 4.3.4's SUB then aborts when it resumes with a
         * full queue (zeromq/libzmq#4364, the same bug that keeps the
         * heartbeat off the client's SUB).  A stopped subscriber's kernel
         * still answers TCP keepalives, so it keeps its connection, falls
         * behind the HWM and catches up by replay; a vanished host is
         * dropped after about a minute. */
        zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &one, sizeof(one));
        zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
        zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof(intvl));
        zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_CNT, &cnt, sizeof(cnt));
    } else {
        wire_set_heartbeat(s);
    }
    if (zmq_bind(s, endpoint) != 0) {
        na_error_set(err, 0, 0, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Append the open group's alerts to the journal in seq order and commit
 * (on the committer: nothing else touches the journal or the group's
 * alerts meanwhile).  Returns 0 or -1 (journal_errmsg says why). */
static int commit_group(struct matcher *m)
{
    for (size_t j = 0; j < m->nalerts_q; j++) {
        const struct matcher_alert *a = &m->alerts_q[j];

        if (journal_append(m->journal, a->seq, a->topic, a->body, a->len, m->now) != 0)
            return -1;
    }
    return journal_commit(m->journal);
}

static void *committer_main(void *arg)
{
    struct matcher_committer *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->quit && !c->todo)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->todo) {
            int rc;

            /* the journal is the committer's alone until it says done */
            pthread_mutex_unlock(&c->mu);
            rc = commit_group(c->m);
            pthread_mutex_lock(&c->mu);
            c->rc = rc;
            c->todo = 0;
            c->done = 1;
            pthread_cond_broadcast(&c->cv);
            continue;
        }
        break; /* quit, nothing left to do */
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void committer_stop(struct matcher_committer *c)
{
    if (!c->started)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->tid, NULL);
    c->started = 0;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void log_rule_warning(const na_error *w, void *arg)
{
    (void)arg;
    log_warn("%s", w->msg);
}

int matcher_new(const struct config *cfg, struct matcher **out, na_error *err)
{
    struct journal_opts jo;
    struct matcher *m;
    char path[4096];
    int n;

    *out = NULL;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    m->cfg = cfg;
    if (ruleset_load_warn(cfg->rules_path, log_rule_warning, NULL, &m->rules, err) != 0)
        goto err;
    if ((m->rule_parts = alert_rules_new(ruleset_count(m->rules))) == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        goto err;
    }
    if (matchpool_new(cfg->matcher.threads, &m->pool, err) != 0)
        goto err;
    {
        na_error werr;

        na_error_clear(&werr);
        if (rulewatch_new(cfg->rules_path, &m->watch, &werr) != 0)
            log_warn("%s: rules changes will need a SIGHUP", werr.msg);
    }
    if (daemon_mkdirs(cfg->state_dir) != 0) {
        na_error_set(err, 0, 0, "%s: cannot create state directory: %s", cfg->state_dir,
                     strerror(errno));
        goto err;
    }
    n = snprintf(path, sizeof(path), "%s/journal.db", cfg->state_dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        na_error_set(err, 0, 0, "state directory path too long: '%s'", cfg->state_dir);
        goto err;
    }
    jo.retention_s = cfg->journal.retention_s;
    jo.max_alerts = cfg->journal.max_alerts;
    jo.sync = cfg->journal.sync;
    if (journal_open(path, &jo, &m->journal, err) != 0)
        goto err;
    if (journal_prune(m->journal, (int64_t)time(NULL)) < 0)
        log_warn("%s", journal_errmsg(m->journal));
    m->committer.m = m;
    pthread_mutex_init(&m->committer.mu, NULL);
    pthread_cond_init(&m->committer.cv, NULL);
    if (daemon_thread_start(&m->committer.tid, committer_main, &m->committer) != 0) {
        /* not fatal: groups are then committed on the main thread */
        log_warn("cannot start the commit thread: groups will be committed in line");
        pthread_cond_destroy(&m->committer.cv);
        pthread_mutex_destroy(&m->committer.mu);
    } else {
        m->committer.started = 1;
    }
    if ((m->zctx = zmq_ctx_new()) == NULL) {
        na_error_set(err, 0, 0, "cannot create a ZeroMQ context");
        goto err;
    }
    /* Frames up to 4 times the protocol limits are received, logged and
     * counted; larger ones make ZeroMQ drop the connection. */
    if ((m->items = bind_socket(m, ZMQ_ROUTER, cfg->items_endpoint, 100000,
                                4LL * WIRE_MAX_ITEM, err)) == NULL ||
        (m->pub = bind_socket(m, ZMQ_PUB, cfg->alerts_endpoint, MATCHER_PUB_HWM, 0, err)) ==
            NULL ||
        (m->replay = bind_socket(m, ZMQ_ROUTER, cfg->replay_endpoint, MATCHER_REPLAY_HWM,
                                 4LL * WIRE_MAX_HEADER, err)) == NULL)
        goto err;
    *out = m;
    return 0;
err:
    matcher_destroy(&m);
    return -1;
}

static void matcher_drop_group(struct matcher *m)
{
    size_t i;

    for (i = 0; i < m->nalerts_q; i++) {
        free(m->alerts_q[i].body);
        m->alerts_q[i].body = NULL;
    }
    m->nalerts_q = 0;
    m->nacks_q = 0;
}

void matcher_destroy(struct matcher **pm)
{
    struct matcher *m;

    if (pm == NULL || *pm == NULL)
        return;
    m = *pm;
    committer_stop(&m->committer); /* after any commit it was running */
    if (m->in_group && m->journal != NULL)
        journal_rollback(m->journal);
    matcher_drop_group(m);
    free(m->alerts_q);
    free(m->acks_q);
    if (m->items != NULL)
        zmq_close(m->items);
    if (m->pub != NULL)
        zmq_close(m->pub);
    if (m->replay != NULL)
        zmq_close(m->replay);
    if (m->zctx != NULL)
        zmq_ctx_term(m->zctx);
    for (size_t i = 0; i < m->npending; i++) {
        item_free(&m->pending[i].it);
        free(m->pending[i].json);
    }
    matchpool_free(&m->pool); /* before the rules its workers use */
    journal_close(&m->journal);
    alert_rules_free(&m->rule_parts);
    ruleset_free(&m->rules);
    rulewatch_free(&m->watch);
    free(m);
    *pm = NULL;
}

/* Grow an array of `size`-byte elements to hold n + 1.  Returns 0 or -1. */
static int matcher_reserve(void **arr, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return 0;
    ncap = *cap == 0 ? 64 : *cap * 2;
    if ((p = realloc(*arr, ncap * size)) == NULL)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Build the bodies of the alerts of the n-th item with alerts of the open
 * group (on a pool thread): the item's part once, then each alert around
 * it and its rule's part (built once per rule set, m->rule_parts). */
static int build_bodies(void *arg, size_t n)
{
    struct matcher *m = arg;
    struct matcher_pending *p = &m->pending[m->alerting[n]];
    struct alert_item *ai = alert_item_new(p->it);
    int rc = 0;

    if (ai == NULL)
        return -1;
    for (size_t j = p->first_alert; j < p->first_alert + p->nalerts; j++) {
        struct matcher_alert *a = &m->alerts_q[j];
        const struct matchpool_match *mm = matchpool_get(m->pool, a->item, a->match);
        const struct rule_info *rule = mm->rule;
        const struct rule_explanation *x = mm->why;
        const struct alert_rule *ar;
        struct alert_matched am = {0};

        if (x != NULL) {
            am.nterms = x->nterms;
            am.terms = (const char *const *)x->terms;
            am.fields = x->fields;
            am.snippet = x->snippet;
        }
        ar = alert_rules_get(m->rule_parts, rule->index, rule->id, rule->name, rule->tags,
                             rule->ntags);
        a->len = 0;
        a->body = ar != NULL ? alert_build_parts(ar, ai, a->seq, m->now, &am, &a->len) : NULL;
        if (a->body == NULL)
            rc = -1;
    }
    alert_item_free(&ai);
    return rc;
}

/* Decode item i of the open group (on a pool thread, before matching it). */
static int decode_item(void *arg, size_t i)
{
    struct matcher *m = arg;
    struct matcher_pending *p = &m->pending[i];

    if (p->json != NULL) {
        int rc;

        na_error_clear(&p->err);
        rc = wire_decode_item(p->enc, p->json, p->len, &p->it, &p->err);
        if (rc == WIRE_ENOMEM)
            p->nomem = 1; /* not a verdict on the item: the group fails */
        else if (rc != 0)
            p->bad = 1;
        free(p->json);
        p->json = NULL;
    }
    m->pitems[i] = p->it;
    return p->nomem ? -1 : 0;
}

static int queue_ack(struct matcher *m, const struct wire_peer *peer, int64_t tag)
{
    if (tag < 0 || peer->len == 0)
        return 0;
    if (matcher_reserve((void **)&m->acks_q, &m->cacks_q, m->nacks_q, sizeof(*m->acks_q)) != 0)
        return -1;
    m->acks_q[m->nacks_q].peer = *peer;
    m->acks_q[m->nacks_q].tag = tag;
    m->nacks_q++;
    return 0;
}

/* Receive one item into the next group (undecoded); returns -2 when
 * nothing was waiting, 0 otherwise. */
static int receive_item(struct matcher *m)
{
    struct matcher_pending *p = &m->pending[m->npending];
    char *json = NULL;
    size_t len = 0;
    na_error err;
    int rc, enc = WIRE_ENC_JSON;

    na_error_clear(&err);
    rc = wire_recv_handoff_raw(m->items, ZMQ_DONTWAIT, &p->peer, &p->tag, &enc, &json, &len,
                               &err);
    if (rc == -2)
        return -2;
    p->it = NULL;
    p->bad = 0;
    p->nomem = 0;
    p->json = NULL;
    if (rc == WIRE_ENOMEM) {
        /* Not copied, so never acknowledged: its group fails (match_group). */
        p->nomem = 1;
        p->err = err;
        json = NULL;
    } else if (rc != 0) {
        m->bad++;
        log_warn("dropped a bad item message (%lu so far): %s", m->bad, err.msg);
        /* Acknowledged below: resending a bad item cannot help. */
        json = NULL;
    }
    p->json = json;
    p->len = len;
    p->enc = enc;
    m->pitems[m->npending] = NULL;
    m->npending++;
    return 0;
}

/* Decode and match the received items on the pool's threads (the
 * journal is not touched: the previous group may be committing).  Returns
 * 0, or -1 when out of memory: receiving, decoding (each such item message
 * is logged) or matching; the group is then not acknowledged. */
static int match_group(struct matcher *m)
{
    size_t nomem = 0;
    int rc = 0;

    for (size_t i = 0; i < m->npending; i++)
        nomem += m->pending[i].nomem;
    /* an item already lost to a failed allocation fails the group: do not
     * spend more memory matching the others */
    if (nomem == 0)
        rc = matchpool_run_prep(m->pool, m->rules, m->pitems, m->npending, decode_item, m);
    nomem = 0;
    for (size_t i = 0; i < m->npending; i++) {
        const struct matcher_pending *p = &m->pending[i];

        if (p->nomem) {
            nomem++;
            log_error("group of %zu items not acknowledged, they will be sent again: item "
                      "message %zu (tag %lld): %s",
                      m->npending, i + 1, (long long)p->tag, p->err.msg);
        }
    }
    if (rc != 0 && nomem == 0)
        log_error("out of memory matching a group of %zu items", m->npending);
    return rc != 0 || nomem > 0 ? -1 : 0;
}

/* In the open group (journal_begin'd) of matched items: item by item in
 * the order they came, record each as processed and give its matches the
 * next seqs (the alerts of an item stay together and in rule order); build
 * the bodies on the pool's threads and queue the acks (commit_group
 * appends the alerts).  Returns 0, or -1 on a journal failure or out of
 * memory (the group must be rolled back). */
static int process_group(struct matcher *m)
{
    int64_t seq = journal_head(m->journal);
    size_t j;

    m->nalerting = 0;
    for (size_t i = 0; i < m->npending; i++) {
        struct matcher_pending *p = &m->pending[i];
        const struct item *it = p->it;
        const char *feed;
        int fresh;

        if (p->bad) {
            m->bad++;
            log_warn("dropped a bad item message (%lu so far): %s", m->bad, p->err.msg);
        }
        if (it != NULL) {
            feed = it->feed != NULL ? it->feed : "";
            /* One look-up: recorded now (inside the group, so a failure
             * below rolls it back with the alerts), or already there - also
             * when the item came twice within this group. */
            fresh = journal_item_mark(m->journal, feed, it->id, m->now);
            if (fresh < 0)
                goto journal_error;
            if (!fresh) {
                m->dups++;
                log_debug("item '%s' of %s already processed", it->id, feed);
            } else {
                m->nitems++;
                p->first_alert = m->nalerts_q;
                p->nalerts = matchpool_count(m->pool, i);
                if (p->nalerts > 0)
                    m->alerting[m->nalerting++] = i;
                for (size_t k = 0; k < p->nalerts; k++) {
                    struct matcher_alert *a;

                    if (matcher_reserve((void **)&m->alerts_q, &m->calerts_q, m->nalerts_q,
                                        sizeof(*m->alerts_q)) != 0)
                        goto oom;
                    a = &m->alerts_q[m->nalerts_q++];
                    a->topic = matchpool_get(m->pool, i, k)->rule->id;
                    a->body = NULL;
                    a->seq = ++seq;
                    a->item = i;
                    a->match = k;
                }
            }
        }
        if (queue_ack(m, &p->peer, p->tag) != 0)
            goto oom;
    }
    if (matchpool_for(m->pool, m->nalerting, build_bodies, m) != 0)
        goto oom;
    for (j = 0; j < m->nalerts_q; j++)
        log_debug("alert seq=%lld rule=%s item=%s", (long long)m->alerts_q[j].seq,
                  m->alerts_q[j].topic, m->pending[m->alerts_q[j].item].it->id);
    return 0;
oom:
    log_error("out of memory building the alerts of a group of %zu items", m->npending);
    return -1;
journal_error:
    log_error("%s", journal_errmsg(m->journal));
    return -1;
}

/* Forget the items of the group (after finish_group). */
static void drop_pending(struct matcher *m)
{
    matchpool_clear(m->pool);
    for (size_t i = 0; i < m->npending; i++) {
        item_free(&m->pending[i].it);
        free(m->pending[i].json);
        m->pending[i].json = NULL;
    }
    m->npending = 0;
}

/* The open group's commit has ended (committed: 0 when it, or anything
 * before it, failed): publish its alerts and send its acks, or roll it
 * back and drop it (its items are not acknowledged: they come again). */
static void finish_group(struct matcher *m, int committed)
{
    size_t i, start;

    if (!m->in_group) {
        matcher_drop_group(m);
        return;
    }
    m->in_group = 0;
    if (!committed) {
        journal_rollback(m->journal);
        log_warn("dropped a group of %zu alerts and %zu items: the items will be sent again",
                 m->nalerts_q, m->nacks_q);
        matcher_drop_group(m);
        return;
    }
    for (i = 0; i < m->nalerts_q; i++) {
        struct matcher_alert *a = &m->alerts_q[i];

        if (wire_send_alert(m->pub, a->topic, a->body, a->len, 0) != 0)
            log_error("cannot publish an alert: %s", zmq_strerror(zmq_errno()));
        else
            m->alerts++;
    }
    /* One ack message per run of items from the same peer. */
    for (start = 0; start < m->nacks_q;) {
        int64_t tags[WIRE_MAX_ACKS];
        size_t n = 0;

        i = start;
        while (i < m->nacks_q && n < WIRE_MAX_ACKS &&
               m->acks_q[i].peer.len == m->acks_q[start].peer.len &&
               memcmp(m->acks_q[i].peer.id, m->acks_q[start].peer.id,
                      m->acks_q[start].peer.len) == 0)
            tags[n++] = m->acks_q[i++].tag;
        if (wire_send_acks(m->items, &m->acks_q[start].peer, tags, n) != 0)
            log_debug("cannot send %zu acks: %s", n, zmq_strerror(zmq_errno()));
        start = i;
    }
    matcher_drop_group(m);
}

/* Append the open group's alerts and commit it on the committer (in line
 * when there is none); the journal and the group's alerts are not touched
 * again before settle(). */
static void start_commit(struct matcher *m)
{
    struct matcher_committer *c = &m->committer;

    m->committing = 1;
    if (!c->started) {
        c->rc = commit_group(m);
        c->done = 1;
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->done = 0;
    c->todo = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Wait for the commit in flight, if any, then publish and acknowledge
 * its group (or drop it). */
static void settle(struct matcher *m)
{
    struct matcher_committer *c = &m->committer;
    int rc;

    if (!m->committing)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        while (!c->done)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    rc = c->rc;
    c->done = 0;
    m->committing = 0;
    if (rc != 0)
        log_error("%s", journal_errmsg(m->journal));
    finish_group(m, rc == 0);
}

/* Is an item message waiting on the items socket? */
static int items_waiting(struct matcher *m)
{
    zmq_pollitem_t one = {m->items, 0, ZMQ_POLLIN, 0};

    return zmq_poll(&one, 1, 0) > 0;
}

/* The received group: matched while the previous one commits, then (that
 * one settled) journaled in a group of its own, whose commit is started. */
static void run_group(struct matcher *m)
{
    int failed = m->npending == 0 || match_group(m) != 0;

    settle(m);
    if (!failed) {
        if (journal_begin(m->journal) != 0) {
            log_error("%s", journal_errmsg(m->journal));
            failed = 1; /* not acknowledged: the sender will send them again */
        } else {
            m->in_group = 1;
            m->now = (int64_t)time(NULL);
            failed = process_group(m) != 0;
        }
    }
    if (failed)
        finish_group(m, 0);
    else
        start_commit(m);
    drop_pending(m);
}

/* Replay: collect what journal_read gives into a batch. */
struct replay_batch {
    const char *topics[MATCHER_REPLAY_BATCH];
    const char *bodies[MATCHER_REPLAY_BATCH];
    size_t lens[MATCHER_REPLAY_BATCH];
    size_t n;
    int oom;
};

static int replay_collect(int64_t seq, const char *topic, const char *body, size_t len,
                          void *arg)
{
    struct replay_batch *b = arg;
    char *t = strdup(topic), *copy = malloc(len > 0 ? len : 1);

    (void)seq;
    if (t == NULL || copy == NULL) {
        free(t);
        free(copy);
        b->oom = 1;
        return 1;
    }
    memcpy(copy, body, len);
    b->topics[b->n] = t;
    b->bodies[b->n] = copy;
    b->lens[b->n] = len;
    b->n++;
    return 0;
}

static void replay_batch_clear(struct replay_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free((char *)b->topics[i]);
        free((char *)b->bodies[i]);
    }
    b->n = 0;
}

static void serve_replay(struct matcher *m, const struct wire_peer *peer,
                         const struct wire_replay_req *req)
{
    int64_t head = journal_head(m->journal), oldest = journal_oldest(m->journal);
    int64_t after = req->after, last;
    struct replay_batch b;
    char msg[160];
    int i;

    if (req->head_only) {
        wire_send_replay_end(m->replay, peer, req->id, head, head, oldest);
        return;
    }
    if (after > head) {
        m->bad_replays++;
        snprintf(msg, sizeof(msg), "seq %lld is ahead of the head %lld", (long long)after,
                 (long long)head);
        log_warn("replay request refused (%lu so far): %s", m->bad_replays, msg);
        wire_send_replay_error(m->replay, peer, req->id, "future", msg, oldest, head);
        return;
    }
    if (after + 1 < oldest) {
        snprintf(msg, sizeof(msg), "truncated, oldest is %lld", (long long)oldest);
        wire_send_replay_error(m->replay, peer, req->id, "truncated", msg, oldest, head);
        return;
    }
    m->replays++;
    memset(&b, 0, sizeof(b));
    for (i = 0; i < MATCHER_REPLAY_BATCHES && after < head; i++) {
        long got = journal_read(m->journal, after, (const char *const *)req->topics,
                                req->ntopics, MATCHER_REPLAY_BATCH, MATCHER_REPLAY_BATCH_BYTES,
                                MATCHER_REPLAY_SCAN, replay_collect, &b, &last);

        if (got < 0 || b.oom) {
            log_error("replay: %s", got < 0 ? journal_errmsg(m->journal) : "out of memory");
            replay_batch_clear(&b);
            wire_send_replay_error(m->replay, peer, req->id, "internal",
                                   "cannot read the journal", oldest, head);
            return;
        }
        if (b.n > 0 && wire_send_replay_batch(m->replay, peer, req->id, b.topics, b.bodies,
                                              b.lens, b.n) != 0) {
            /* The client is gone or not reading: it will ask again. */
            log_debug("replay: cannot send a batch: %s", zmq_strerror(zmq_errno()));
            replay_batch_clear(&b);
            return;
        }
        replay_batch_clear(&b);
        after = last;
    }
    wire_send_replay_end(m->replay, peer, req->id, after, head, oldest);
}

static void handle_replay(struct matcher *m)
{
    struct wire_replay_req req;
    struct wire_peer peer;
    na_error err;
    int rc;

    na_error_clear(&err);
    rc = wire_recv_replay_req(m->replay, ZMQ_DONTWAIT, &peer, &req, &err);
    if (rc == -2)
        return;
    if (rc == WIRE_ENOMEM) { /* not the client's fault: it asks again */
        log_error("replay request: %s", err.msg);
        if (peer.len > 0)
            wire_send_replay_error(m->replay, &peer, req.id, "internal", "out of memory",
                                   journal_oldest(m->journal), journal_head(m->journal));
        wire_replay_req_clear(&req);
        return;
    }
    if (rc != 0) {
        m->bad_replays++;
        log_warn("dropped a bad replay request (%lu so far): %s", m->bad_replays, err.msg);
        if (peer.len > 0)
            wire_send_replay_error(m->replay, &peer, req.id, "bad_request", err.msg,
                                   journal_oldest(m->journal), journal_head(m->journal));
        wire_replay_req_clear(&req);
        return;
    }
    serve_replay(m, &peer, &req);
    wire_replay_req_clear(&req);
}

/* Compile the new set beside the old one and swap between two groups, so
 * every item is matched against exactly one complete set. */
static void reload_rules(struct matcher *m)
{
    struct ruleset *fresh = NULL;
    struct alert_rules *parts;
    na_error err;

    na_error_clear(&err);
    if (ruleset_load_warn(m->cfg->rules_path, log_rule_warning, NULL, &fresh, &err) != 0) {
        log_error("reload failed, keeping the %zu rules in force: %s",
                  ruleset_count(m->rules), err.msg);
        return;
    }
    if ((parts = alert_rules_new(ruleset_count(fresh))) == NULL) {
        log_error("reload failed, keeping the %zu rules in force: out of memory",
                  ruleset_count(m->rules));
        ruleset_free(&fresh);
        return;
    }
    matchpool_forget(m->pool); /* its workers point into the old set */
    alert_rules_free(&m->rule_parts);
    m->rule_parts = parts;
    ruleset_free(&m->rules);
    m->rules = fresh;
    log_info("reloaded %zu rules from %s", ruleset_count(m->rules), m->cfg->rules_path);
}

int matcher_run(struct matcher *m)
{
    zmq_pollitem_t pi[3] = {{m->items, 0, ZMQ_POLLIN, 0},
                            {m->replay, 0, ZMQ_POLLIN, 0},
                            {NULL, m->watch != NULL ? rulewatch_fd(m->watch) : -1, ZMQ_POLLIN, 0}};
    int npi = m->watch != NULL ? 3 : 2;
    int64_t wait;
    int64_t next_beat = 0, next_prune = (int64_t)time(NULL) + MATCHER_PRUNE_S, now;
    int n, k;

    log_info("matching with %zu rules on %d threads: items on %s, alerts on %s, replay on %s, "
             "journal head %lld",
             ruleset_count(m->rules), m->cfg->matcher.threads, m->cfg->items_endpoint,
             m->cfg->alerts_endpoint,
             m->cfg->replay_endpoint, (long long)journal_head(m->journal));
    while (!daemon_quit) {
        /* a commit is left in flight only while more items are waiting */
        if (m->committing && !items_waiting(m))
            settle(m);
        now = matcher_ms();
        if (daemon_reload || rulewatch_due(m->watch, now)) {
            daemon_reload = 0;
            settle(m); /* its alerts' topics are the old set's */
            reload_rules(m);
        }
        if (now >= next_beat) {
            settle(m);
            wire_send_heartbeat(m->pub, journal_head(m->journal), journal_oldest(m->journal),
                                (int64_t)time(NULL));
            next_beat = now + MATCHER_HEARTBEAT_MS;
        }
        if ((int64_t)time(NULL) >= next_prune) {
            int64_t gone;

            settle(m);
            gone = journal_prune(m->journal, (int64_t)time(NULL));

            if (gone < 0)
                log_warn("%s", journal_errmsg(m->journal));
            else if (gone > 0)
                log_info("journal: pruned %lld alerts, oldest now %lld", (long long)gone,
                         (long long)journal_oldest(m->journal));
            next_prune = (int64_t)time(NULL) + MATCHER_PRUNE_S;
        }
        wait = next_beat - now > 0 ? next_beat - now : 1;
        if (rulewatch_wait_ms(m->watch, now) >= 0 && rulewatch_wait_ms(m->watch, now) < wait)
            wait = rulewatch_wait_ms(m->watch, now) + 1;
        n = zmq_poll(pi, npi, (long)wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error("poll failed: %s", zmq_strerror(zmq_errno()));
            settle(m);
            return -1;
        }
        if (pi[0].revents & ZMQ_POLLIN) {
            /* One group: what is queued, up to MATCHER_GROUP_MAX items. */
            for (k = 0; k < MATCHER_GROUP_MAX; k++)
                if (receive_item(m) == -2)
                    break;
            run_group(m);
        }
        if (npi > 2 && (pi[2].revents & ZMQ_POLLIN))
            rulewatch_read(m->watch, matcher_ms());
        if (pi[1].revents & ZMQ_POLLIN) {
            settle(m); /* replay reads the journal */
            for (k = 0; k < 64; k++) {
                zmq_pollitem_t one = {m->replay, 0, ZMQ_POLLIN, 0};

                if (zmq_poll(&one, 1, 0) <= 0)
                    break;
                handle_replay(m);
            }
        }
    }
    settle(m);
    log_info("stopping: %lu items, %lu resent items ignored, %lu alerts, %lu bad item "
             "messages, %lu replays, %lu bad replay requests",
             m->nitems, m->dups, m->alerts, m->bad, m->replays, m->bad_replays);
    return 0;
}

/*
 * matcher.c - the matcher daemon's work (see matcher.h).
 *
 * Items arrive on a PULL socket as JSON (wire.h); each is matched against
 * every rule (ruleset.h) and each match becomes an alert: a `seq` from the
 * persistent counter, a body from alert.h, published with the rule id as
 * topic.  A bad item frame is logged, counted and dropped.  The rule set is
 * swapped only when a complete new one loaded, so an item is always matched
 * against one consistent set.
 */
#include "matcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "alert.h"
#include "daemon.h"
#include "log.h"
#include "ruleset.h"
#include "store.h"
#include "wire.h"

#define MATCHER_LINGER_MS 2000
#define MATCHER_POLL_MS 500

struct matcher {
    const struct config *cfg;
    struct ruleset *rules;
    struct store *store;
    void *zctx;
    void *pull;
    void *pub;
    unsigned long items;
    unsigned long alerts;
    unsigned long bad;
};

static void *bind_socket(struct matcher *m, int type, const char *endpoint, na_error *err)
{
    int linger = MATCHER_LINGER_MS, hwm = 100000;
    void *s = zmq_socket(m->zctx, type);

    if (s == NULL) {
        na_error_set(err, 0, 0, "cannot create socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, type == ZMQ_PUB ? ZMQ_SNDHWM : ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_bind(s, endpoint) != 0) {
        na_error_set(err, 0, 0, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int matcher_new(const struct config *cfg, struct matcher **out, na_error *err)
{
    struct matcher *m;
    char path[4096];

    *out = NULL;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    m->cfg = cfg;
    if (ruleset_load(cfg->rules_path, &m->rules, err) != 0)
        goto err;
    if (daemon_mkdirs(cfg->state_dir) != 0) {
        na_error_set(err, 0, 0, "%s: cannot create state directory: %s", cfg->state_dir,
                     strerror(errno));
        goto err;
    }
    snprintf(path, sizeof(path), "%s/matcher.db", cfg->state_dir);
    if (store_open(path, &m->store, err) != 0)
        goto err;
    if ((m->zctx = zmq_ctx_new()) == NULL) {
        na_error_set(err, 0, 0, "cannot create a ZeroMQ context");
        goto err;
    }
    if ((m->pull = bind_socket(m, ZMQ_PULL, cfg->items_endpoint, err)) == NULL ||
        (m->pub = bind_socket(m, ZMQ_PUB, cfg->alerts_endpoint, err)) == NULL)
        goto err;
    *out = m;
    return 0;
err:
    matcher_destroy(&m);
    return -1;
}

void matcher_destroy(struct matcher **pm)
{
    struct matcher *m;

    if (pm == NULL || *pm == NULL)
        return;
    m = *pm;
    if (m->pull != NULL)
        zmq_close(m->pull);
    if (m->pub != NULL)
        zmq_close(m->pub);
    if (m->zctx != NULL)
        zmq_ctx_term(m->zctx);
    store_close(&m->store);
    ruleset_free(&m->rules);
    free(m);
    *pm = NULL;
}

/* ruleset_match callback: one alert per (rule, item). */
static int publish_alert(const struct rule_info *rule, const struct item *it, void *arg)
{
    struct matcher *m = arg;
    int64_t seq;
    char *body;

    if (store_counter_next(m->store, "seq", &seq) != 0) {
        log_error("cannot advance seq: %s", store_errmsg(m->store));
        return -1;
    }
    if ((body = alert_build(rule->id, rule->name, it, seq, (int64_t)time(NULL))) == NULL) {
        log_error("out of memory building alert for rule '%s'", rule->id);
        return -1;
    }
    if (wire_send_alert(m->pub, rule->id, body, strlen(body), 0) != 0)
        log_error("cannot publish alert seq %lld: %s", (long long)seq,
                  zmq_strerror(zmq_errno()));
    else
        m->alerts++;
    log_debug("alert seq=%lld rule=%s item=%s", (long long)seq, rule->id, it->id);
    free(body);
    return 0;
}

static void reload_rules(struct matcher *m)
{
    struct ruleset *fresh = NULL;
    na_error err;

    na_error_clear(&err);
    if (ruleset_load(m->cfg->rules_path, &fresh, &err) != 0) {
        log_error("reload failed, keeping the %zu rules in force: %s",
                  ruleset_count(m->rules), err.msg);
        return;
    }
    ruleset_free(&m->rules);
    m->rules = fresh;
    log_info("reloaded %zu rules from %s", ruleset_count(m->rules), m->cfg->rules_path);
}

/* Receive and handle one item; returns -2 when nothing was waiting. */
static int handle_item(struct matcher *m)
{
    struct item *it = NULL;
    na_error err;
    int rc;

    na_error_clear(&err);
    rc = wire_recv_item(m->pull, ZMQ_DONTWAIT, &it, &err);
    if (rc == -2)
        return -2;
    if (rc != 0) {
        m->bad++;
        log_warn("dropped a bad item message (%lu so far): %s", m->bad, err.msg);
        return 0;
    }
    m->items++;
    if (ruleset_match(m->rules, it, publish_alert, m) != 0)
        log_error("matching item '%s' of %s failed", it->id, it->feed ? it->feed : "?");
    item_free(&it);
    return 0;
}

int matcher_run(struct matcher *m)
{
    zmq_pollitem_t pi = {m->pull, 0, ZMQ_POLLIN, 0};
    int n, burst;

    log_info("matching with %zu rules: items on %s, alerts on %s", ruleset_count(m->rules),
             m->cfg->items_endpoint, m->cfg->alerts_endpoint);
    while (!daemon_quit) {
        if (daemon_reload) {
            daemon_reload = 0;
            reload_rules(m);
        }
        n = zmq_poll(&pi, 1, MATCHER_POLL_MS);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error("poll failed: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        /* Drain what is queued, but look at the flags every so often. */
        for (burst = 0; n > 0 && burst < 1000 && !daemon_quit; burst++)
            if (handle_item(m) == -2)
                break;
    }
    log_info("stopping: %lu items, %lu alerts, %lu bad messages", m->items, m->alerts, m->bad);
    return 0;
}

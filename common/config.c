/*
 * config.c - the deployment configuration and the feeds list (see config.h).
 *
 * Both files are read through jsonfile, so every problem is reported with
 * the file, line and column of the offending key.  Defaults live here and
 * only here; README "Configuration" documents them.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"

#define DEFAULT_ITEMS_ENDPOINT "tcp://127.0.0.1:5601"
#define DEFAULT_ALERTS_ENDPOINT "tcp://127.0.0.1:5602"
#define DEFAULT_REPLAY_ENDPOINT "tcp://127.0.0.1:5603"
#define DAY_S (24 * 3600)

static const char *const top_keys[] = {"state_dir", "feeds", "rules", "items_endpoint",
                                       "alerts_endpoint", "replay_endpoint", "fetcher",
                                       "notifier", NULL};
static const char *const fetcher_keys[] = {"concurrency", "interval_s", "timeout_s",
                                           "max_bytes", "max_age_s", NULL};
static const char *const notifier_keys[] = {"topics", "sinks", NULL};
static const char *const sink_keys[] = {"type", "name", "topics", "format", "path",
                                        "command", "timeout_s", "concurrency", NULL};
static const char *const feedlist_keys[] = {"feeds", NULL};
static const char *const feed_keys[] = {"url", "name", "interval_s", "max_age_s", NULL};

static void free_strings(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void sink_conf_clear(struct sink_conf *s)
{
    free(s->name);
    free_strings(s->topics, s->ntopics);
    free(s->path);
    free(s->command);
}

void config_free(struct config **pcfg)
{
    struct config *c;
    size_t i;

    if (pcfg == NULL || *pcfg == NULL)
        return;
    c = *pcfg;
    free(c->path);
    free(c->state_dir);
    free(c->feeds_path);
    free(c->rules_path);
    free(c->items_endpoint);
    free(c->alerts_endpoint);
    free(c->replay_endpoint);
    free_strings(c->notifier.topics, c->notifier.ntopics);
    for (i = 0; i < c->notifier.nsinks; i++)
        sink_conf_clear(&c->notifier.sinks[i]);
    free(c->notifier.sinks);
    free(c);
    *pcfg = NULL;
}

/* A path key of the top level, resolved against the config file. */
static int get_path(const struct jsonfile *f, const char *key, const char *dflt, char **out,
                    na_error *err)
{
    const char *v = dflt;

    if (jsonfile_get_string(f, f->root, "", key, 0, &v, err) != 0)
        return -1;
    if (v[0] == '\0')
        return jsonfile_error(f, err, key, "'%s' must not be empty", key);
    if ((*out = jsonfile_resolve(f->path, v)) == NULL)
        return na_error_set(err, 0, 0, "%s: out of memory", f->path);
    return 0;
}

static int get_endpoint(const struct jsonfile *f, const char *key, const char *dflt,
                        char **out, na_error *err)
{
    const char *v = dflt;

    if (jsonfile_get_string(f, f->root, "", key, 0, &v, err) != 0)
        return -1;
    if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0 &&
        strncmp(v, "inproc://", 9) != 0)
        return jsonfile_error(f, err, key,
                              "'%s' must be a ZeroMQ endpoint (tcp://, ipc:// or inproc://), "
                              "not '%.200s'", key, v);
    if ((*out = strdup(v)) == NULL)
        return na_error_set(err, 0, 0, "%s: out of memory", f->path);
    return 0;
}

/* An optional array of strings at obj[key] (found at path). */
static int get_strings(const struct jsonfile *f, json_t *obj, const char *path,
                       const char *key, char ***out, size_t *n, na_error *err)
{
    char where[512], at[540];
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;

    snprintf(where, sizeof(where), "%s%s%s", path, path[0] ? "." : "", key);
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return jsonfile_error(f, err, where, "'%s' must be an array of strings", where);
    if ((*out = calloc(json_array_size(arr) + 1, sizeof(char *))) == NULL)
        return na_error_set(err, 0, 0, "%s: out of memory", f->path);
    json_array_foreach(arr, i, v) {
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_string(v))
            return jsonfile_error(f, err, at, "'%s' must be a string", at);
        if (((*out)[i] = strdup(json_string_value(v))) == NULL)
            return na_error_set(err, 0, 0, "%s: out of memory", f->path);
        *n = i + 1;
    }
    return 0;
}

static int load_fetcher(const struct jsonfile *f, struct config *c, na_error *err)
{
    json_t *o = json_object_get(f->root, "fetcher");
    long long v;

    c->fetcher.concurrency = 16;
    c->fetcher.interval_s = 300;
    c->fetcher.timeout_s = 20;
    c->fetcher.max_bytes = 8LL * 1024 * 1024;
    c->fetcher.max_age_s = 2 * DAY_S;
    if (o == NULL)
        return 0;
    if (jsonfile_check_keys(f, o, "fetcher", fetcher_keys, err) != 0)
        return -1;
#define GET(key, min, max, field)                                                     \
    v = c->fetcher.field;                                                             \
    if (jsonfile_get_int(f, o, "fetcher", key, 0, min, max, &v, err) != 0)            \
        return -1;                                                                    \
    c->fetcher.field = v;
    GET("concurrency", 1, 4096, concurrency);
    GET("interval_s", 1, 7 * DAY_S, interval_s);
    GET("timeout_s", 1, 3600, timeout_s);
    GET("max_bytes", 1024, 1LL << 32, max_bytes);
    GET("max_age_s", 0, INT_MAX, max_age_s);
#undef GET
    return 0;
}

static int load_sink(const struct jsonfile *f, json_t *o, const char *path,
                     const struct config *c, struct sink_conf *s, na_error *err)
{
    const char *type = NULL, *name = NULL, *format = "auto", *fpath = NULL, *cmd = NULL;
    char where[600], dflt[600];
    long long v;

    if (jsonfile_check_keys(f, o, path, sink_keys, err) != 0 ||
        jsonfile_get_string(f, o, path, "type", 1, &type, err) != 0 ||
        jsonfile_get_string(f, o, path, "name", 0, &name, err) != 0 ||
        jsonfile_get_string(f, o, path, "format", 0, &format, err) != 0 ||
        jsonfile_get_string(f, o, path, "path", 0, &fpath, err) != 0 ||
        jsonfile_get_string(f, o, path, "command", 0, &cmd, err) != 0 ||
        get_strings(f, o, path, "topics", &s->topics, &s->ntopics, err) != 0)
        return -1;
    snprintf(where, sizeof(where), "%s.type", path);
    if (strcmp(type, "stdout") == 0) {
        s->type = SINK_STDOUT;
        snprintf(dflt, sizeof(dflt), "stdout");
    } else if (strcmp(type, "file") == 0) {
        s->type = SINK_FILE;
        if (fpath == NULL || fpath[0] == '\0')
            return jsonfile_error(f, err, path, "a file sink needs a 'path'");
        if ((s->path = jsonfile_resolve(c->path, fpath)) == NULL)
            return na_error_set(err, 0, 0, "out of memory");
        snprintf(dflt, sizeof(dflt), "file:%.500s", fpath);
    } else if (strcmp(type, "exec") == 0) {
        s->type = SINK_EXEC;
        if (cmd == NULL || cmd[0] == '\0')
            return jsonfile_error(f, err, path, "an exec sink needs a 'command'");
        if ((s->command = strdup(cmd)) == NULL)
            return na_error_set(err, 0, 0, "out of memory");
        snprintf(dflt, sizeof(dflt), "exec:%.500s", cmd);
    } else {
        return jsonfile_error(f, err, where,
                              "unknown sink type '%.100s' (expected stdout, file or exec)", type);
    }
    if (fpath != NULL && s->type != SINK_FILE)
        return jsonfile_error(f, err, path, "'path' is only for file sinks");
    if (cmd != NULL && s->type != SINK_EXEC)
        return jsonfile_error(f, err, path, "'command' is only for exec sinks");
    snprintf(where, sizeof(where), "%s.format", path);
    if (strcmp(format, "auto") == 0)
        s->format = SINK_FORMAT_AUTO;
    else if (strcmp(format, "text") == 0)
        s->format = SINK_FORMAT_TEXT;
    else if (strcmp(format, "json") == 0)
        s->format = SINK_FORMAT_JSON;
    else
        return jsonfile_error(f, err, where, "unknown format '%.100s' (expected auto, text or json)",
                              format);
    s->timeout_s = 30;
    s->concurrency = 4;
    v = s->timeout_s;
    if (jsonfile_get_int(f, o, path, "timeout_s", 0, 1, 3600, &v, err) != 0)
        return -1;
    s->timeout_s = (int)v;
    v = s->concurrency;
    if (jsonfile_get_int(f, o, path, "concurrency", 0, 1, 256, &v, err) != 0)
        return -1;
    s->concurrency = (int)v;
    if ((s->name = strdup(name != NULL ? name : dflt)) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    return 0;
}

static int load_notifier(const struct jsonfile *f, struct config *c, na_error *err)
{
    json_t *o = json_object_get(f->root, "notifier"), *sinks;
    char path[64];
    size_t i;

    if (o != NULL) {
        if (jsonfile_check_keys(f, o, "notifier", notifier_keys, err) != 0 ||
            get_strings(f, o, "notifier", "topics", &c->notifier.topics, &c->notifier.ntopics,
                        err) != 0)
            return -1;
    }
    if (c->notifier.topics == NULL) {
        if ((c->notifier.topics = calloc(2, sizeof(char *))) == NULL ||
            (c->notifier.topics[0] = strdup("")) == NULL)
            return na_error_set(err, 0, 0, "out of memory");
        c->notifier.ntopics = 1;
    }
    sinks = o != NULL ? json_object_get(o, "sinks") : NULL;
    if (sinks == NULL) {
        if ((c->notifier.sinks = calloc(1, sizeof(struct sink_conf))) == NULL ||
            (c->notifier.sinks[0].name = strdup("stdout")) == NULL)
            return na_error_set(err, 0, 0, "out of memory");
        c->notifier.sinks[0].type = SINK_STDOUT;
        c->notifier.sinks[0].timeout_s = 30;
        c->notifier.sinks[0].concurrency = 4;
        c->notifier.nsinks = 1;
        return 0;
    }
    if (!json_is_array(sinks))
        return jsonfile_error(f, err, "notifier.sinks", "'notifier.sinks' must be an array");
    if ((c->notifier.sinks = calloc(json_array_size(sinks) + 1, sizeof(struct sink_conf))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    for (i = 0; i < json_array_size(sinks); i++) {
        snprintf(path, sizeof(path), "notifier.sinks[%zu]", i);
        c->notifier.nsinks = i + 1;
        if (load_sink(f, json_array_get(sinks, i), path, c, &c->notifier.sinks[i], err) != 0)
            return -1;
    }
    return 0;
}

int config_load(const char *path, struct config **out, na_error *err)
{
    struct jsonfile *f = NULL;
    struct config *c = NULL;

    *out = NULL;
    if (jsonfile_open(path, &f, err) != 0)
        return -1;
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(path)) == NULL) {
        na_error_set(err, 0, 0, "%s: out of memory", path);
        goto err;
    }
    if (jsonfile_check_keys(f, f->root, "", top_keys, err) != 0 ||
        get_path(f, "state_dir", "var", &c->state_dir, err) != 0 ||
        get_path(f, "feeds", "feeds.json", &c->feeds_path, err) != 0 ||
        get_path(f, "rules", "rules.json", &c->rules_path, err) != 0 ||
        get_endpoint(f, "items_endpoint", DEFAULT_ITEMS_ENDPOINT, &c->items_endpoint, err) != 0 ||
        get_endpoint(f, "alerts_endpoint", DEFAULT_ALERTS_ENDPOINT, &c->alerts_endpoint, err) != 0 ||
        get_endpoint(f, "replay_endpoint", DEFAULT_REPLAY_ENDPOINT, &c->replay_endpoint, err) != 0 ||
        load_fetcher(f, c, err) != 0 || load_notifier(f, c, err) != 0)
        goto err;
    jsonfile_close(&f);
    *out = c;
    return 0;
err:
    jsonfile_close(&f);
    config_free(&c);
    return -1;
}

void feedlist_free(struct feedlist **pfl)
{
    size_t i;

    if (pfl == NULL || *pfl == NULL)
        return;
    for (i = 0; i < (*pfl)->nfeeds; i++) {
        free((*pfl)->feeds[i].url);
        free((*pfl)->feeds[i].name);
    }
    free((*pfl)->feeds);
    free(*pfl);
    *pfl = NULL;
}

/* A feed URL as the fetcher will use it: http(s):// and file:// are kept;
 * a plain path is a bundled file, resolved against the feeds file and
 * turned into an absolute file:// URL.  Returns malloc'd or NULL. */
static char *feed_url(const struct jsonfile *f, const char *url, const char *path, na_error *err)
{
    char *rel, *abs, *out;
    size_t n;

    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 ||
        strncmp(url, "file://", 7) == 0)
        return strdup(url);
    if (strstr(url, "://") != NULL || url[0] == '\0') {
        jsonfile_error(f, err, path, "feed url '%.200s' is not http://, https://, file:// "
                       "or a file path", url);
        return NULL;
    }
    if ((rel = jsonfile_resolve(f->path, url)) == NULL)
        return NULL;
    abs = realpath(rel, NULL);
    free(rel);
    if (abs == NULL) {
        jsonfile_error(f, err, path, "feed file '%.200s' does not exist", url);
        return NULL;
    }
    n = strlen(abs) + sizeof("file://");
    if ((out = malloc(n)) != NULL)
        snprintf(out, n, "file://%s", abs);
    free(abs);
    return out;
}

int feedlist_load(const struct config *cfg, struct feedlist **out, na_error *err)
{
    struct jsonfile *f = NULL;
    struct feedlist *fl = NULL;
    json_t *arr, *o;
    char path[64], where[80];
    size_t i, j;

    *out = NULL;
    na_error_clear(err);
    if (jsonfile_open(cfg->feeds_path, &f, err) != 0)
        return -1;
    if (jsonfile_check_keys(f, f->root, "", feedlist_keys, err) != 0)
        goto err;
    arr = json_object_get(f->root, "feeds");
    if (!json_is_array(arr)) {
        jsonfile_error(f, err, arr == NULL ? "" : "feeds", "'feeds' must be an array of feeds");
        goto err;
    }
    if ((fl = calloc(1, sizeof(*fl))) == NULL ||
        (fl->feeds = calloc(json_array_size(arr) + 1, sizeof(*fl->feeds))) == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        goto err;
    }
    json_array_foreach(arr, i, o) {
        struct feed_conf *fc = &fl->feeds[i];
        const char *url = NULL, *name = NULL;
        long long interval = cfg->fetcher.interval_s, max_age = cfg->fetcher.max_age_s;

        snprintf(path, sizeof(path), "feeds[%zu]", i);
        snprintf(where, sizeof(where), "%s.url", path);
        if (jsonfile_check_keys(f, o, path, feed_keys, err) != 0 ||
            jsonfile_get_string(f, o, path, "url", 1, &url, err) != 0 ||
            jsonfile_get_string(f, o, path, "name", 0, &name, err) != 0 ||
            jsonfile_get_int(f, o, path, "interval_s", 0, 1, 7 * DAY_S, &interval, err) != 0 ||
            jsonfile_get_int(f, o, path, "max_age_s", 0, 0, INT_MAX, &max_age, err) != 0)
            goto err;
        if ((fc->url = feed_url(f, url, where, err)) == NULL) {
            if (err != NULL && err->msg[0] == '\0')
                na_error_set(err, 0, 0, "out of memory");
            goto err;
        }
        fl->nfeeds = i + 1;
        for (j = 0; j < i; j++)
            if (strcmp(fl->feeds[j].url, fc->url) == 0) {
                jsonfile_error(f, err, where, "duplicate feed url '%.200s' (also feeds[%zu])",
                               url, j);
                goto err;
            }
        if ((fc->name = strdup(name != NULL ? name : url)) == NULL) {
            na_error_set(err, 0, 0, "out of memory");
            goto err;
        }
        fc->interval_s = (int)interval;
        fc->max_age_s = (int)max_age;
    }
    jsonfile_close(&f);
    *out = fl;
    return 0;
err:
    jsonfile_close(&f);
    feedlist_free(&fl);
    return -1;
}

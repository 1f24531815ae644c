/*
 * config.c - the deployment configuration and the feeds list (see config.h).
 *
 * Both files are read through jsonfile, so every problem is reported with
 * the file, line and column of the offending key.  Defaults live here and
 * only here; README "Configuration" documents them.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonfile.h"

#define DEFAULT_ITEMS_ENDPOINT "tcp://127.0.0.1:5601"
#define DEFAULT_ALERTS_ENDPOINT "tcp://127.0.0.1:5602"
#define DEFAULT_REPLAY_ENDPOINT "tcp://127.0.0.1:5603"
#define DAY_S (24 * 3600)

static const char *const top_keys[] = {"state_dir", "feeds", "rules", "items_endpoint",
                                       "alerts_endpoint", "replay_endpoint", "fetcher",
                                       "notifier", "journal", "matcher", NULL};
static const char *const matcher_keys[] = {"threads", NULL};
static const char *const journal_keys[] = {"retention_s", "max_alerts", "sync", NULL};
static const char *const fetcher_keys[] = {"concurrency", "interval_s", "timeout_s",
                                           "max_bytes", "max_age_s", "per_host",
                                           "seen_retention_s", "max_backoff_s", "ca_file",
                                           "parse_threads", NULL};
static const char *const notifier_keys[] = {"topics", "sinks", NULL};
static const char *const sink_keys[] = {
    "type", "name", "topics", "format", "path", "command", "timeout_s", "concurrency", "start",
    "url", "retry_initial_ms", "retry_max_s", "max_attempts", "template", "method", "secret",
    "signature_header", "headers", "from", "to", "username", "password", "starttls", NULL};
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
    free(s->url);
    free(s->method);
    free(s->secret);
    free(s->signature_header);
    free_strings(s->headers, s->nheaders);
    free(s->from);
    free_strings(s->to, s->nto);
    free(s->username);
    free(s->password);
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
    free(c->fetcher.ca_file);
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
    /* An empty list would silently select nothing (no alert subscribed, no
     * recipient): leaving the key out is how to ask for the default. */
    if (json_array_size(arr) == 0)
        return jsonfile_error(f, err, where, "'%s' is an empty list", where);
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

/* The `journal` section: retention and durability of the matcher's alert
 * journal (see journal.h). */
static int load_journal(const struct jsonfile *f, struct config *c, na_error *err)
{
    json_t *o = json_object_get(f->root, "journal");

    c->journal.retention_s = 7LL * DAY_S;
    c->journal.max_alerts = 1000000;
    c->journal.sync = 1;
    if (o == NULL)
        return 0;
    if (jsonfile_check_keys(f, o, "journal", journal_keys, err) != 0 ||
        jsonfile_get_int(f, o, "journal", "retention_s", 0, 0, 100LL * 365 * DAY_S,
                         &c->journal.retention_s, err) != 0 ||
        jsonfile_get_int(f, o, "journal", "max_alerts", 0, 0, 1000000000000LL,
                         &c->journal.max_alerts, err) != 0 ||
        jsonfile_get_bool(f, o, "journal", "sync", 0, &c->journal.sync, err) != 0)
        return -1;
    return 0;
}

/* The `matcher` section: `threads`, the matching threads (default: the
 * number of online cores, at most CONFIG_MATCHER_THREADS_MAX). */
static int load_matcher(const struct jsonfile *f, struct config *c, na_error *err)
{
    json_t *o = json_object_get(f->root, "matcher");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long long v;

    c->matcher.threads = cores < 1 ? 1 : cores > CONFIG_MATCHER_THREADS_MAX
                                             ? CONFIG_MATCHER_THREADS_MAX : (int)cores;
    if (o == NULL)
        return 0;
    v = c->matcher.threads;
    if (jsonfile_check_keys(f, o, "matcher", matcher_keys, err) != 0 ||
        jsonfile_get_int(f, o, "matcher", "threads", 0, 1, CONFIG_MATCHER_THREADS_MAX, &v,
                         err) != 0)
        return -1;
    c->matcher.threads = (int)v;
    return 0;
}

/* fetcher.ca_file: a readable regular file (a PEM bundle; curl reads it),
 * resolved against the config file; absent: c->fetcher.ca_file stays NULL. */
static int get_ca_file(const struct jsonfile *f, json_t *o, struct config *c, na_error *err)
{
    const char *v = NULL;
    struct stat st;

    if (jsonfile_get_string(f, o, "fetcher", "ca_file", 0, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (v[0] == '\0')
        return jsonfile_error(f, err, "fetcher.ca_file", "'fetcher.ca_file' must not be empty");
    if ((c->fetcher.ca_file = jsonfile_resolve(f->path, v)) == NULL)
        return na_error_set(err, 0, 0, "%s: out of memory", f->path);
    if (stat(c->fetcher.ca_file, &st) != 0 || access(c->fetcher.ca_file, R_OK) != 0)
        return jsonfile_error(f, err, "fetcher.ca_file", "cannot read 'fetcher.ca_file' "
                              "'%.200s': %s", c->fetcher.ca_file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return jsonfile_error(f, err, "fetcher.ca_file", "'fetcher.ca_file' '%.200s' is not "
                              "a file (a PEM bundle of CA certificates)", c->fetcher.ca_file);
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
    c->fetcher.per_host = 2;
    c->fetcher.seen_retention_s = 30 * DAY_S;
    c->fetcher.max_backoff_s = 6 * 3600;
    {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        c->fetcher.parse_threads = cores < 1 ? 1 : cores > CONFIG_PARSE_THREADS_MAX
                                                       ? CONFIG_PARSE_THREADS_MAX : (int)cores;
    }
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
    GET("per_host", 1, 4096, per_host);
    GET("seen_retention_s", 0, INT_MAX, seen_retention_s);
    GET("max_backoff_s", 60, 30 * DAY_S, max_backoff_s);
    GET("parse_threads", 1, CONFIG_PARSE_THREADS_MAX, parse_threads);
#undef GET
    return get_ca_file(f, o, c, err);
}

/* Index of `v` in the NULL-terminated `names`, or -1. */
static int pick(const char *v, const char *const names[])
{
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(v, names[i]) == 0)
            return i;
    }
    return -1;
}

static int dup_opt(const char *v, char **out, na_error *err)
{
    if (v != NULL && (*out = strdup(v)) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    return 0;
}

/* A header name is an HTTP token; a value has no control characters (no
 * CR/LF: no header injection). */
static int header_ok(const char *name, size_t nlen, const char *value)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    if (nlen == 0)
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(tchar, c) != NULL))
            return 0;
    }
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p < 0x20 && *p != '\t')
            return 0;
        if (*p == 0x7f)
            return 0;
    }
    return 1;
}

/* webhook `headers`: an object of strings, kept as "Name: value". */
static int get_headers(const struct jsonfile *f, json_t *o, const char *path,
                       struct sink_conf *s, na_error *err)
{
    json_t *h = json_object_get(o, "headers"), *v;
    const char *key;
    char where[700];
    size_t i = 0;

    snprintf(where, sizeof(where), "%s.headers", path);
    if (h == NULL)
        return 0;
    if (!json_is_object(h))
        return jsonfile_error(f, err, where, "'%s' must be an object of strings", where);
    if ((s->headers = calloc(json_object_size(h) + 1, sizeof(char *))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    json_object_foreach(h, key, v) {
        char at[800];
        size_t n;

        snprintf(at, sizeof(at), "%s.%s", where, key);
        if (!json_is_string(v))
            return jsonfile_error(f, err, at, "header '%.100s' must be a string", key);
        if (!header_ok(key, strlen(key), json_string_value(v)))
            return jsonfile_error(f, err, at,
                                  "bad header '%.100s' (a token name, a value without control "
                                  "characters)", key);
        n = strlen(key) + strlen(json_string_value(v)) + 3;
        if ((s->headers[i] = malloc(n)) == NULL)
            return na_error_set(err, 0, 0, "out of memory");
        snprintf(s->headers[i], n, "%s: %s", key, json_string_value(v));
        s->nheaders = ++i;
    }
    return 0;
}

/* The keys of one sink type that other types must not carry. */
static int only_for(const struct jsonfile *f, json_t *o, const char *path,
                    const struct sink_conf *s, enum sink_type type, const char *what,
                    const char *const keys[], na_error *err)
{
    if (s->type == type)
        return 0;
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (json_object_get(o, keys[i]) != NULL)
            return jsonfile_error(f, err, path, "'%s' is only for %s sinks", keys[i], what);
    }
    return 0;
}

/* url, from, to... of webhook and email sinks. */
static int load_remote(const struct jsonfile *f, json_t *o, const char *path,
                       struct sink_conf *s, na_error *err)
{
    static const char *const templates[] = {"json", "slack", "discord", "matrix", "ntfy", NULL};
    static const char *const methods[] = {"POST", "PUT", NULL};
    static const char *const starttls[] = {"required", "try", "off", NULL};
    const char *url = NULL, *tmpl = "json", *method = NULL, *secret = NULL, *sighdr = NULL;
    const char *from = NULL, *user = NULL, *pass = NULL, *tls = "required";
    char where[700];
    long long v;
    int k;

    if (jsonfile_get_string(f, o, path, "url", 0, &url, err) != 0 ||
        jsonfile_get_string(f, o, path, "template", 0, &tmpl, err) != 0 ||
        jsonfile_get_string(f, o, path, "method", 0, &method, err) != 0 ||
        jsonfile_get_string(f, o, path, "secret", 0, &secret, err) != 0 ||
        jsonfile_get_string(f, o, path, "signature_header", 0, &sighdr, err) != 0 ||
        jsonfile_get_string(f, o, path, "from", 0, &from, err) != 0 ||
        jsonfile_get_string(f, o, path, "username", 0, &user, err) != 0 ||
        jsonfile_get_string(f, o, path, "password", 0, &pass, err) != 0 ||
        jsonfile_get_string(f, o, path, "starttls", 0, &tls, err) != 0 ||
        get_strings(f, o, path, "to", &s->to, &s->nto, err) != 0)
        return -1;
    if (s->type == SINK_WEBHOOK) {
        static const char *const email_keys[] = {"from", "to", "username", "password",
                                                 "starttls", NULL};
        for (size_t i = 0; email_keys[i] != NULL; i++) {
            if (json_object_get(o, email_keys[i]) != NULL)
                return jsonfile_error(f, err, path, "'%s' is only for email sinks",
                                      email_keys[i]);
        }
        if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
            return jsonfile_error(f, err, path, "a webhook sink needs an http:// or https:// "
                                  "'url'");
        snprintf(where, sizeof(where), "%s.template", path);
        if ((k = pick(tmpl, templates)) < 0)
            return jsonfile_error(f, err, where, "unknown template '%.100s' (expected json, "
                                  "slack, discord, matrix or ntfy)", tmpl);
        s->tmpl = (enum sink_template)k;
        if (method == NULL)
            method = s->tmpl == SINK_TEMPLATE_MATRIX ? "PUT" : "POST";
        snprintf(where, sizeof(where), "%s.method", path);
        if (pick(method, methods) < 0)
            return jsonfile_error(f, err, where, "unknown method '%.100s' (expected POST or "
                                  "PUT)", method);
        if (sighdr == NULL)
            sighdr = "X-Newsalert-Signature";
        snprintf(where, sizeof(where), "%s.signature_header", path);
        if (!header_ok(sighdr, strlen(sighdr), ""))
            return jsonfile_error(f, err, where, "bad header name '%.100s'", sighdr);
        snprintf(where, sizeof(where), "%s.secret", path);
        if (secret != NULL && secret[0] == '\0')
            return jsonfile_error(f, err, where, "'secret' must not be empty");
        if (get_headers(f, o, path, s, err) != 0 || dup_opt(method, &s->method, err) != 0 ||
            dup_opt(secret, &s->secret, err) != 0 ||
            dup_opt(sighdr, &s->signature_header, err) != 0)
            return -1;
    } else {
        static const char *const webhook_keys[] = {"template", "method", "secret",
                                                   "signature_header", "headers", NULL};
        for (size_t i = 0; webhook_keys[i] != NULL; i++) {
            if (json_object_get(o, webhook_keys[i]) != NULL)
                return jsonfile_error(f, err, path, "'%s' is only for webhook sinks",
                                      webhook_keys[i]);
        }
        if (url == NULL || (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0))
            return jsonfile_error(f, err, path, "an email sink needs an smtp:// or smtps:// "
                                  "'url'");
        if (from == NULL || from[0] == '\0' || strpbrk(from, "\r\n") != NULL)
            return jsonfile_error(f, err, path, "an email sink needs a 'from' address");
        if (s->nto == 0)
            return jsonfile_error(f, err, path, "an email sink needs a non-empty 'to' array");
        for (size_t i = 0; i < s->nto; i++) {
            snprintf(where, sizeof(where), "%s.to[%zu]", path, i);
            if (s->to[i][0] == '\0' || strpbrk(s->to[i], "\r\n,<>") != NULL)
                return jsonfile_error(f, err, where, "bad address '%.100s'", s->to[i]);
        }
        if ((user == NULL) != (pass == NULL))
            return jsonfile_error(f, err, path, "'username' and 'password' go together");
        snprintf(where, sizeof(where), "%s.starttls", path);
        if ((k = pick(tls, starttls)) < 0)
            return jsonfile_error(f, err, where, "unknown starttls '%.100s' (expected "
                                  "required, try or off)", tls);
        s->starttls = (enum sink_starttls)k;
        if (dup_opt(from, &s->from, err) != 0 || dup_opt(user, &s->username, err) != 0 ||
            dup_opt(pass, &s->password, err) != 0)
            return -1;
    }
    if (dup_opt(url, &s->url, err) != 0)
        return -1;
    s->retry_initial_ms = 1000;
    s->retry_max_s = 300;
    s->max_attempts = 0;
    v = s->retry_initial_ms;
    if (jsonfile_get_int(f, o, path, "retry_initial_ms", 0, 10, 3600 * 1000, &v, err) != 0)
        return -1;
    s->retry_initial_ms = (int)v;
    v = s->retry_max_s;
    if (jsonfile_get_int(f, o, path, "retry_max_s", 0, 1, 24 * 3600, &v, err) != 0)
        return -1;
    s->retry_max_s = (int)v;
    v = s->max_attempts;
    if (jsonfile_get_int(f, o, path, "max_attempts", 0, 0, 1000000, &v, err) != 0)
        return -1;
    s->max_attempts = (int)v;
    return 0;
}

static int load_sink(const struct jsonfile *f, json_t *o, const char *path,
                     const struct config *c, struct sink_conf *s, na_error *err)
{
    static const char *const remote_keys[] = {"url", "retry_initial_ms", "retry_max_s",
                                              "max_attempts", "template", "method", "secret",
                                              "signature_header", "headers", "from", "to",
                                              "username", "password", "starttls", NULL};
    static const char *const exec_keys[] = {"concurrency", NULL};
    static const char *const starts[] = {"oldest", "now", NULL};
    const char *type = NULL, *name = NULL, *format = "auto", *fpath = NULL, *cmd = NULL;
    const char *start = "oldest";
    char where[600], dflt[600];
    long long v;
    int k;

    if (jsonfile_check_keys(f, o, path, sink_keys, err) != 0 ||
        jsonfile_get_string(f, o, path, "type", 1, &type, err) != 0 ||
        jsonfile_get_string(f, o, path, "name", 0, &name, err) != 0 ||
        jsonfile_get_string(f, o, path, "format", 0, &format, err) != 0 ||
        jsonfile_get_string(f, o, path, "path", 0, &fpath, err) != 0 ||
        jsonfile_get_string(f, o, path, "command", 0, &cmd, err) != 0 ||
        jsonfile_get_string(f, o, path, "start", 0, &start, err) != 0 ||
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
    } else if (strcmp(type, "webhook") == 0 || strcmp(type, "email") == 0) {
        s->type = type[0] == 'w' ? SINK_WEBHOOK : SINK_EMAIL;
        if (fpath != NULL)
            return jsonfile_error(f, err, path, "'path' is only for file sinks");
        if (cmd != NULL)
            return jsonfile_error(f, err, path, "'command' is only for exec sinks");
        if (load_remote(f, o, path, s, err) != 0)
            return -1;
        snprintf(dflt, sizeof(dflt), "%s:%.500s", type, s->url);
    } else {
        return jsonfile_error(f, err, where,
                              "unknown sink type '%.100s' (expected stdout, file, exec, webhook "
                              "or email)", type);
    }
    if (fpath != NULL && s->type != SINK_FILE)
        return jsonfile_error(f, err, path, "'path' is only for file sinks");
    if (cmd != NULL && s->type != SINK_EXEC)
        return jsonfile_error(f, err, path, "'command' is only for exec sinks");
    if (s->type != SINK_WEBHOOK && s->type != SINK_EMAIL) {
        for (size_t i = 0; remote_keys[i] != NULL; i++) {
            if (json_object_get(o, remote_keys[i]) != NULL)
                return jsonfile_error(f, err, path, "'%s' is only for webhook and email sinks",
                                      remote_keys[i]);
        }
    }
    if (only_for(f, o, path, s, SINK_EXEC, "exec", exec_keys, err) != 0)
        return -1;
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
    snprintf(where, sizeof(where), "%s.start", path);
    if ((k = pick(start, starts)) < 0)
        return jsonfile_error(f, err, where, "unknown start '%.100s' (expected oldest or now)",
                              start);
    s->start = (enum sink_start)k;
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
    if (s->name[0] == '\0')
        return jsonfile_error(f, err, path, "a sink 'name' must not be empty");
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
    if (json_array_size(sinks) == 0)
        return jsonfile_error(f, err, "notifier.sinks", "'notifier.sinks' is empty: alerts "
                              "would go nowhere (leave it out for a stdout sink)");
    if ((c->notifier.sinks = calloc(json_array_size(sinks) + 1, sizeof(struct sink_conf))) == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    for (i = 0; i < json_array_size(sinks); i++) {
        snprintf(path, sizeof(path), "notifier.sinks[%zu]", i);
        c->notifier.nsinks = i + 1;
        if (load_sink(f, json_array_get(sinks, i), path, c, &c->notifier.sinks[i], err) != 0)
            return -1;
        /* the name keys the sink's cursor in the state directory */
        for (size_t k = 0; k < i; k++) {
            if (strcmp(c->notifier.sinks[k].name, c->notifier.sinks[i].name) == 0)
                return jsonfile_error(f, err, path, "duplicate sink name '%.200s' (give each "
                                      "sink a distinct 'name')", c->notifier.sinks[i].name);
        }
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
        load_fetcher(f, c, err) != 0 || load_notifier(f, c, err) != 0 ||
        load_journal(f, c, err) != 0 || load_matcher(f, c, err) != 0)
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

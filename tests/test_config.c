/*
 * test_config.c - unit tests for common/config.c (config_load, feedlist_load).
 *
 * The configuration and the feeds list come from the operator, so beside the
 * happy paths (fixtures under tests/data/config/, the documented defaults,
 * paths resolved against the file's directory) most tests feed bad files and
 * check that the error names the file and the line:column of the culprit.
 * The last tests load the production examples shipped in config/production/,
 * so a typo there fails the build.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "testutil.h"

#define MIB (1024LL * 1024)

/* --- helpers ------------------------------------------------------------- */

struct fixture {
    char dir[256];  /* a fresh directory under /tmp */
    char path[512]; /* scratch for file names */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/na-test-config-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    testutil_rm_tree(fx->dir);
    free(fx);
    return 0;
}

/* Write `text` to <dir>/<name> (creating one level of sub-directory when
 * name holds a slash) and return the full path (in fx->path). */
static const char *put(struct fixture *fx, const char *name, const char *text)
{
    const char *slash = strchr(name, '/');

    if (slash != NULL) {
        snprintf(fx->path, sizeof(fx->path), "%s/%.*s", fx->dir, (int)(slash - name), name);
        mkdir(fx->path, 0700);
    }
    snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, name);
    return testutil_write_file(fx->path, text);
}

/* "<dir>/<name>" into buf. */
static const char *in_dir(const struct fixture *fx, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", fx->dir, name);
    return buf;
}

static struct config *load_ok(const char *path)
{
    struct config *cfg = NULL;
    na_error err;

    na_error_clear(&err);
    if (config_load(path, &cfg, &err) != 0)
        fail_msg("config_load(%s): %s", path, err.msg);
    assert_non_null(cfg);
    return cfg;
}

/* Load config text that must fail; check "<file>:<line>:<col>: " and that
 * the message contains `needle`. */
static void config_fails(struct fixture *fx, const char *text, int line, int col,
                         const char *needle)
{
    struct config *cfg = (struct config *)1;
    char want[700];
    const char *path = put(fx, "newsalert.json", text);
    na_error err;

    na_error_clear(&err);
    if (config_load(path, &cfg, &err) == 0)
        fail_msg("config accepted: %s", text);
    assert_null(cfg);
    if (line > 0)
        snprintf(want, sizeof(want), "%s:%d:%d: ", path, line, col);
    else
        snprintf(want, sizeof(want), "%s: ", path);
    if (strncmp(err.msg, want, strlen(want)) != 0 || err.line != line || err.column != col)
        fail_msg("for %s\nexpected '%s...' (%d:%d)\ngot      '%s' (%d:%d)", text, want, line,
                 col, err.msg, err.line, err.column);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' does not say '%s'", err.msg, needle);
    /* a NULL error report is allowed and changes nothing */
    assert_int_equal(config_load(path, &cfg, NULL), -1);
    assert_null(cfg);
}

/* --- config_load: good files -------------------------------------------- */

static void test_defaults(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    char want[600];

    cfg = load_ok(put(fx, "etc/newsalert.json", "{}"));
    assert_string_equal(cfg->path, fx->path);
    assert_string_equal(cfg->state_dir, in_dir(fx, "etc/var", want, sizeof(want)));
    assert_string_equal(cfg->feeds_path, in_dir(fx, "etc/feeds.json", want, sizeof(want)));
    assert_string_equal(cfg->rules_path, in_dir(fx, "etc/rules.json", want, sizeof(want)));
    assert_string_equal(cfg->items_endpoint, "tcp://127.0.0.1:5601");
    assert_string_equal(cfg->alerts_endpoint, "tcp://127.0.0.1:5602");
    assert_string_equal(cfg->replay_endpoint, "tcp://127.0.0.1:5603");
    assert_int_equal(cfg->fetcher.concurrency, 16);
    assert_int_equal(cfg->fetcher.interval_s, 300);
    assert_int_equal(cfg->fetcher.timeout_s, 20);
    assert_int_equal(cfg->fetcher.max_bytes, 8 * MIB);
    assert_int_equal(cfg->fetcher.max_age_s, 172800);
    assert_int_equal(cfg->fetcher.per_host, 2);
    assert_int_equal(cfg->fetcher.seen_retention_s, 30 * 86400);
    assert_int_equal(cfg->fetcher.max_backoff_s, 6 * 3600);
    {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        assert_int_equal(cfg->fetcher.parse_threads, cores < 1 ? 1 : cores > 64 ? 64 : cores);
    }
    assert_int_equal(cfg->notifier.ntopics, 1);
    assert_string_equal(cfg->notifier.topics[0], "");
    assert_int_equal(cfg->notifier.nsinks, 1);
    assert_int_equal(cfg->notifier.sinks[0].type, SINK_STDOUT);
    assert_string_equal(cfg->notifier.sinks[0].name, "stdout");
    assert_int_equal(cfg->notifier.sinks[0].format, SINK_FORMAT_AUTO);
    assert_null(cfg->notifier.sinks[0].topics);
    assert_int_equal(cfg->notifier.sinks[0].ntopics, 0);
    assert_null(cfg->notifier.sinks[0].path);
    assert_null(cfg->notifier.sinks[0].command);
    config_free(&cfg);
    assert_null(cfg);
    config_free(&cfg); /* NULL-safe */
    config_free(NULL);
}

static void test_defaults_fixture(void **state)
{
    struct config *cfg = load_ok(NA_TEST_DATA "/config/minimal/newsalert.json");

    (void)state;
    assert_string_equal(cfg->state_dir, NA_TEST_DATA "/config/minimal/var");
    assert_string_equal(cfg->feeds_path, NA_TEST_DATA "/config/minimal/feeds.json");
    assert_int_equal(cfg->fetcher.max_age_s, 2 * 24 * 3600);
    assert_int_equal(cfg->notifier.nsinks, 1);
    config_free(&cfg);
}

static void test_empty_sections_keep_defaults(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg = load_ok(put(fx, "newsalert.json",
                                     "{\"fetcher\": {}, \"notifier\": {\"topics\": [\"a\"]}}"));

    assert_int_equal(cfg->fetcher.concurrency, 16);
    assert_int_equal(cfg->fetcher.interval_s, 300);
    assert_int_equal(cfg->fetcher.timeout_s, 20);
    assert_int_equal(cfg->fetcher.max_bytes, 8 * MIB);
    assert_int_equal(cfg->fetcher.max_age_s, 172800);
    assert_int_equal(cfg->notifier.ntopics, 1);
    assert_string_equal(cfg->notifier.topics[0], "a");
    assert_int_equal(cfg->notifier.nsinks, 1); /* still the stdout sink */
    assert_int_equal(cfg->notifier.sinks[0].type, SINK_STDOUT);
    config_free(&cfg);
}

static void test_full_fixture(void **state)
{
    struct config *cfg = load_ok(NA_TEST_DATA "/config/full/newsalert.json");
    const struct sink_conf *s;

    (void)state;
    assert_string_equal(cfg->state_dir, NA_TEST_DATA "/config/full/state");
    assert_string_equal(cfg->feeds_path, NA_TEST_DATA "/config/full/feeds.json");
    assert_string_equal(cfg->rules_path, "/etc/newsalert/rules.json");
    assert_string_equal(cfg->items_endpoint, "ipc:///run/newsalert/items");
    assert_string_equal(cfg->alerts_endpoint, "tcp://127.0.0.1:6602");
    assert_string_equal(cfg->replay_endpoint, "inproc://replay");
    assert_int_equal(cfg->fetcher.concurrency, 4);
    assert_int_equal(cfg->fetcher.interval_s, 600);
    assert_int_equal(cfg->fetcher.timeout_s, 15);
    assert_int_equal(cfg->fetcher.max_bytes, MIB);
    assert_int_equal(cfg->fetcher.max_age_s, 3600);
    assert_int_equal(cfg->notifier.ntopics, 2);
    assert_string_equal(cfg->notifier.topics[0], "ukraine-");
    assert_string_equal(cfg->notifier.topics[1], "nato-membership");
    assert_int_equal(cfg->notifier.nsinks, 3);

    s = &cfg->notifier.sinks[0];
    assert_int_equal(s->type, SINK_STDOUT);
    assert_string_equal(s->name, "stdout");
    assert_int_equal(s->format, SINK_FORMAT_TEXT);
    assert_null(s->topics);

    s = &cfg->notifier.sinks[1];
    assert_int_equal(s->type, SINK_FILE);
    assert_string_equal(s->path, NA_TEST_DATA "/config/full/out/alerts.jsonl");
    assert_string_equal(s->name, "file:out/alerts.jsonl");
    assert_int_equal(s->format, SINK_FORMAT_JSON);
    assert_int_equal(s->ntopics, 1);
    assert_string_equal(s->topics[0], "ukraine-");
    assert_null(s->command);

    s = &cfg->notifier.sinks[2];
    assert_int_equal(s->type, SINK_EXEC);
    assert_string_equal(s->name, "pager");
    assert_string_equal(s->command, "logger -t newsalert");
    assert_int_equal(s->timeout_s, 5);
    assert_int_equal(s->concurrency, 2);
    assert_int_equal(s->format, SINK_FORMAT_AUTO);
    assert_null(s->path);
    config_free(&cfg);
}

static void test_relative_paths(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    char want[600];

    cfg = load_ok(put(fx, "conf/newsalert.json",
                      "{\"state_dir\": \"../state\", \"feeds\": \"lists/feeds.json\",\n"
                      " \"rules\": \"/abs/rules.json\",\n"
                      " \"notifier\": {\"sinks\": [{\"type\": \"file\", \"path\": \"a.jsonl\"},\n"
                      "   {\"type\": \"file\", \"path\": \"/var/log/b.jsonl\"},\n"
                      "   {\"type\": \"exec\", \"command\": \"./notify.sh\"}]}}"));
    assert_string_equal(cfg->state_dir, in_dir(fx, "conf/../state", want, sizeof(want)));
    assert_string_equal(cfg->feeds_path, in_dir(fx, "conf/lists/feeds.json", want, sizeof(want)));
    assert_string_equal(cfg->rules_path, "/abs/rules.json");
    assert_string_equal(cfg->notifier.sinks[0].path, in_dir(fx, "conf/a.jsonl", want, sizeof(want)));
    assert_string_equal(cfg->notifier.sinks[0].name, "file:a.jsonl");
    assert_string_equal(cfg->notifier.sinks[1].path, "/var/log/b.jsonl");
    /* a command is run by /bin/sh as written */
    assert_string_equal(cfg->notifier.sinks[2].command, "./notify.sh");
    assert_string_equal(cfg->notifier.sinks[2].name, "exec:./notify.sh");
    assert_int_equal(cfg->notifier.sinks[2].timeout_s, 30);
    assert_int_equal(cfg->notifier.sinks[2].concurrency, 4);
    config_free(&cfg);
}

static void test_bounds_accepted(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;

    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"fetcher\": {\"concurrency\": 4096, \"interval_s\": 604800,\n"
                      " \"timeout_s\": 3600, \"max_bytes\": 1024, \"max_age_s\": 0},\n"
                      " \"notifier\": {\"sinks\": [{\"type\": \"exec\",\n"
                      "  \"command\": \"true\", \"timeout_s\": 3600, \"concurrency\": 256}]}}"));
    assert_int_equal(cfg->fetcher.concurrency, 4096);
    assert_int_equal(cfg->fetcher.interval_s, 604800);
    assert_int_equal(cfg->fetcher.timeout_s, 3600);
    assert_int_equal(cfg->fetcher.max_bytes, 1024);
    assert_int_equal(cfg->fetcher.max_age_s, 0);
    assert_int_equal(cfg->notifier.sinks[0].timeout_s, 3600);
    assert_int_equal(cfg->notifier.sinks[0].concurrency, 256);
    config_free(&cfg);

    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"fetcher\": {\"concurrency\": 1, \"interval_s\": 1, \"timeout_s\": 1,\n"
                      " \"max_bytes\": 4294967296, \"max_age_s\": 2147483647}}"));
    assert_int_equal(cfg->fetcher.max_bytes, 4294967296LL);
    assert_int_equal(cfg->fetcher.max_age_s, INT_MAX);
    config_free(&cfg);

    /* fetcher: per-host limit, seen-set retention (0: forever), backoff cap */
    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"fetcher\": {\"per_host\": 1, \"seen_retention_s\": 0,\n"
                      " \"max_backoff_s\": 60, \"parse_threads\": 1}}"));
    assert_int_equal(cfg->fetcher.parse_threads, 1);
    assert_int_equal(cfg->fetcher.per_host, 1);
    assert_int_equal(cfg->fetcher.seen_retention_s, 0);
    assert_int_equal(cfg->fetcher.max_backoff_s, 60);
    config_free(&cfg);
    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"fetcher\": {\"per_host\": 4096, \"seen_retention_s\": 2147483647,\n"
                      " \"max_backoff_s\": 2592000, \"parse_threads\": 64}}"));
    assert_int_equal(cfg->fetcher.parse_threads, 64);
    assert_int_equal(cfg->fetcher.per_host, 4096);
    assert_int_equal(cfg->fetcher.seen_retention_s, INT_MAX);
    assert_int_equal(cfg->fetcher.max_backoff_s, 30 * 86400);
    config_free(&cfg);
}

/* --- config_load: bad files ---------------------------------------------- */

static void test_missing_file(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg = (struct config *)1;
    char path[600];
    na_error err;

    in_dir(fx, "nope/newsalert.json", path, sizeof(path));
    assert_int_equal(config_load(path, &cfg, &err), -1);
    assert_null(cfg);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(err.msg, "No such file"));
}

static void test_syntax_error(void **state)
{
    config_fails(*state, "{\n  \"state_dir\": \"x\",\n  \"fetcher\": {\"concurrency\": 4,}\n}",
                 3, 32, "");
    config_fails(*state, "", 1, 0, "");
    config_fails(*state, "{\"feeds\": \"a\", \"feeds\": \"b\"}", 1, 22, "duplicate");
}

static void test_unknown_keys(void **state)
{
    /* top level */
    config_fails(*state, "{\n  \"state_dir\": \"x\",\n    \"feed\": \"f.json\"\n}", 3, 5,
                 "unknown key 'feed'");
    /* fetcher */
    config_fails(*state, "{\"fetcher\": {\n  \"interval_s\": 60,\n  \"intervall\": 5}}", 3, 3,
                 "unknown key 'intervall' in fetcher");
    /* notifier */
    config_fails(*state, "{\"notifier\": {\"sink\": []}}", 1, 15,
                 "unknown key 'sink' in notifier");
    /* a sink */
    config_fails(*state,
                 "{\"notifier\": {\"sinks\": [\n"
                 "  {\"type\": \"stdout\"},\n"
                 "  {\"type\": \"file\", \"path\": \"a\", \"mode\": \"0600\"}]}}",
                 3, 33, "unknown key 'mode' in notifier.sinks[1]");
}

static void test_wrong_types(void **state)
{
    config_fails(*state, "[]", 1, 1, "the top level must be an object");
    config_fails(*state, "{\"state_dir\": 5}", 1, 2, "'state_dir' must be a string");
    config_fails(*state, "{\"feeds\": null}", 1, 2, "'feeds' must be a string");
    config_fails(*state, "{\"rules\": [\"r.json\"]}", 1, 2, "'rules' must be a string");
    config_fails(*state, "{\"items_endpoint\": 5601}", 1, 2, "'items_endpoint' must be a string");
    config_fails(*state, "{\"fetcher\": []}", 1, 2, "fetcher must be an object");
    config_fails(*state, "{\"fetcher\": null}", 1, 2, "fetcher must be an object");
    config_fails(*state, "{\"fetcher\": {\"concurrency\": \"16\"}}", 1, 14,
                 "'fetcher.concurrency' must be an integer");
    config_fails(*state, "{\"fetcher\": {\"interval_s\": 300.0}}", 1, 14,
                 "'fetcher.interval_s' must be an integer");
    config_fails(*state, "{\"fetcher\": {\"max_bytes\": true}}", 1, 14,
                 "'fetcher.max_bytes' must be an integer");
    config_fails(*state, "{\"notifier\": \"stdout\"}", 1, 2, "notifier must be an object");
    config_fails(*state, "{\"notifier\": {\"topics\": \"\"}}", 1, 15,
                 "'notifier.topics' must be an array of strings");
    config_fails(*state, "{\"notifier\": {\"topics\": [\"a\", 2]}}", 1, 31,
                 "'notifier.topics[1]' must be a string");
    config_fails(*state, "{\"notifier\": {\"topics\": []}}", 1, 15,
                 "'notifier.topics' is an empty list");
    config_fails(*state, "{\"notifier\": {\"sinks\": []}}", 1, 15,
                 "'notifier.sinks' is empty: alerts would go nowhere");
    config_fails(*state, "{\"notifier\": {\"sinks\": {\"type\": \"stdout\"}}}", 1, 15,
                 "'notifier.sinks' must be an array");
    config_fails(*state, "{\"notifier\": {\"sinks\": [\"stdout\"]}}", 1, 25,
                 "notifier.sinks[0] must be an object");
    config_fails(*state, "{\"notifier\": {\"sinks\": [{\"type\": 1}]}}", 1, 26,
                 "'notifier.sinks[0].type' must be a string");
    config_fails(*state, "{\"notifier\": {\"sinks\": [{\"type\": \"stdout\", \"topics\": [null]}]}}",
                 1, 55, "'notifier.sinks[0].topics[0]' must be a string");
    config_fails(*state, "{\"notifier\": {\"sinks\": [{\"type\": \"exec\", \"command\": \"x\",\n"
                         "  \"timeout_s\": \"5\"}]}}", 2, 3,
                 "'notifier.sinks[0].timeout_s' must be an integer");
}

static void test_out_of_range(void **state)
{
    static const struct {
        const char *member;
        const char *needle;
    } cases[] = {
        {"\"concurrency\": 0", "'fetcher.concurrency' must be between 1 and 4096, not 0"},
        {"\"concurrency\": 4097", "'fetcher.concurrency' must be between 1 and 4096, not 4097"},
        {"\"interval_s\": 0", "'fetcher.interval_s' must be between 1 and 604800, not 0"},
        {"\"interval_s\": 604801", "'fetcher.interval_s' must be between"},
        {"\"interval_s\": -300", "'fetcher.interval_s' must be between"},
        {"\"timeout_s\": 0", "'fetcher.timeout_s' must be between 1 and 3600, not 0"},
        {"\"timeout_s\": 3601", "'fetcher.timeout_s' must be between"},
        {"\"max_bytes\": 1023", "'fetcher.max_bytes' must be between 1024 and 4294967296"},
        {"\"max_bytes\": 4294967297", "'fetcher.max_bytes' must be between"},
        {"\"max_age_s\": -1", "'fetcher.max_age_s' must be between 0 and 2147483647, not -1"},
        {"\"max_age_s\": 2147483648", "'fetcher.max_age_s' must be between"},
        {"\"per_host\": 0", "'fetcher.per_host' must be between 1 and 4096, not 0"},
        {"\"per_host\": \"2\"", "'fetcher.per_host' must be"},
        {"\"seen_retention_s\": -1", "'fetcher.seen_retention_s' must be between 0 and"},
        {"\"max_backoff_s\": 59", "'fetcher.max_backoff_s' must be between 60 and 2592000"},
        {"\"max_backoff_s\": 2592001", "'fetcher.max_backoff_s' must be between"},
        {"\"parse_threads\": 0", "'fetcher.parse_threads' must be between 1 and 64, not 0"},
        {"\"parse_threads\": 65", "'fetcher.parse_threads' must be between 1 and 64"},
        {"\"parse_threads\": 1.5", "'fetcher.parse_threads' must be"},
    };
    struct fixture *fx = *state;
    char text[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* the member sits on line 2 at column 5 */
        snprintf(text, sizeof(text), "{\"fetcher\": {\n    %s\n}}", cases[i].member);
        config_fails(fx, text, 2, 5, cases[i].needle);
    }
    config_fails(fx, "{\"notifier\": {\"sinks\": [{\"type\": \"exec\", \"command\": \"x\",\n"
                     " \"timeout_s\": 0}]}}", 2, 2,
                 "'notifier.sinks[0].timeout_s' must be between 1 and 3600, not 0");
    config_fails(fx, "{\"notifier\": {\"sinks\": [{\"type\": \"exec\", \"command\": \"x\",\n"
                     " \"concurrency\": 257}]}}", 2, 2,
                 "'notifier.sinks[0].concurrency' must be between 1 and 256, not 257");
}

/* --- the matcher section (rules, issue 4) --------------------------------- */

static void test_matcher_threads(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    cfg = load_ok(put(fx, "newsalert.json", "{}"));
    assert_int_equal(cfg->matcher.threads, cores < 1 ? 1 : cores > 64 ? 64 : cores);
    config_free(&cfg);
    cfg = load_ok(put(fx, "newsalert.json", "{\"matcher\": {\"threads\": 3}}"));
    assert_int_equal(cfg->matcher.threads, 3);
    config_free(&cfg);
    config_fails(fx, "{\"matcher\": {\n    \"threads\": 0}}", 2, 5,
                 "'matcher.threads' must be between 1 and 64, not 0");
    config_fails(fx, "{\"matcher\": {\n    \"threads\": 65}}", 2, 5,
                 "'matcher.threads' must be between 1 and 64");
    config_fails(fx, "{\"matcher\": {\n    \"thread\": 2}}", 2, 5, "unknown key 'thread'");
}

/* --- the journal section (durable, issue 5) ------------------------------ */

static void test_journal_section(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;

    cfg = load_ok(put(fx, "newsalert.json", "{}"));
    assert_int_equal(cfg->journal.retention_s, 7LL * 24 * 3600);
    assert_int_equal(cfg->journal.max_alerts, 1000000);
    assert_int_equal(cfg->journal.sync, 1);
    config_free(&cfg);
    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"journal\": {\"retention_s\": 0, \"max_alerts\": 50, \"sync\": false}}"));
    assert_int_equal(cfg->journal.retention_s, 0);
    assert_int_equal(cfg->journal.max_alerts, 50);
    assert_int_equal(cfg->journal.sync, 0);
    config_free(&cfg);
    config_fails(fx, "{\"journal\": {\n    \"max_alerts\": -1}}", 2, 5,
                 "'journal.max_alerts' must be between 0 and");
    config_fails(fx, "{\"journal\": {\n    \"sync\": 1}}", 2, 5, "journal.sync");
    config_fails(fx, "{\"journal\": {\n    \"retention\": 1}}", 2, 5,
                 "unknown key 'retention'");
}

static void test_endpoints_and_paths(void **state)
{
    config_fails(*state, "{\n\"items_endpoint\": \"http://127.0.0.1:5601\"}", 2, 1,
                 "'items_endpoint' must be a ZeroMQ endpoint");
    config_fails(*state, "{\"alerts_endpoint\": \"\"}", 1, 2, "'alerts_endpoint' must be");
    config_fails(*state, "{\"replay_endpoint\": \"127.0.0.1:5603\"}", 1, 2,
                 "'replay_endpoint' must be");
    config_fails(*state, "{\"state_dir\": \"\"}", 1, 2, "'state_dir' must not be empty");
    config_fails(*state, "{\"feeds\": \"\"}", 1, 2, "'feeds' must not be empty");
    config_fails(*state, "{\"rules\": \"\"}", 1, 2, "'rules' must not be empty");
}

/* A sink object config_load must refuse, with the column and a piece of
 * the message its error must give. */
struct bad_sink {
    const char *sink;
    int col;
    const char *needle;
};

/* Each case as the only sink (its object starts at line 2, column 3) must
 * fail at line 2 and its column, with its message. */
static void sinks_fail(struct fixture *fx, const struct bad_sink *cases, size_t n)
{
    static const char head[] = "{\"notifier\": {\"sinks\": [\n  ";
    char text[512];

    for (size_t i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "%s%s]}}", head, cases[i].sink);
        config_fails(fx, text, 2, cases[i].col, cases[i].needle);
    }
}

static void test_bad_sinks(void **state)
{
    static const struct bad_sink cases[] = {
        {"{\"path\": \"a\"}", 3, "missing required key 'notifier.sinks[0].type'"},
        {"{\"type\": \"file\"}", 3, "a file sink needs a 'path'"},
        {"{\"type\": \"file\", \"path\": \"\"}", 3, "a file sink needs a 'path'"},
        {"{\"type\": \"exec\"}", 3, "an exec sink needs a 'command'"},
        {"{\"type\": \"exec\", \"command\": \"\"}", 3, "an exec sink needs a 'command'"},
        {"{\"type\": \"pager\"}", 4,
         "unknown sink type 'pager' (expected stdout, file, exec, webhook or email)"},
        {"{\"type\": \"Stdout\"}", 4, "unknown sink type 'Stdout'"},
        {"{\"type\": \"stdout\", \"format\": \"xml\"}", 22,
         "unknown format 'xml' (expected auto, text or json)"},
        {"{\"type\": \"stdout\", \"path\": \"a\"}", 3, "'path' is only for file sinks"},
        {"{\"type\": \"exec\", \"command\": \"x\", \"path\": \"a\"}", 3,
         "'path' is only for file sinks"},
        {"{\"type\": \"file\", \"path\": \"a\", \"command\": \"x\"}", 3,
         "'command' is only for exec sinks"},
        {"{\"type\": \"stdout\", \"name\": 7}", 22, "'notifier.sinks[0].name' must be a string"},
        {"{\"type\": \"stdout\", \"topics\": \"a\"}", 22,
         "'notifier.sinks[0].topics' must be an array of strings"},
        {"{\"type\": \"stdout\", \"topics\": []}", 22,
         "'notifier.sinks[0].topics' is an empty list"},
    };
    sinks_fail(*state, cases, sizeof(cases) / sizeof(cases[0]));
    /* the second sink is the bad one */
    config_fails(*state, "{\"notifier\": {\"sinks\": [{\"type\": \"stdout\"},\n"
                         "     {\"type\": \"exec\"}]}}", 2, 6,
                 "an exec sink needs a 'command'");
}

/* --- notifier: webhook and email sinks (notify) ----------------------------- */

static void test_remote_sinks(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    const struct sink_conf *s;

    cfg = load_ok(put(fx, "newsalert.json",
                      "{\"notifier\": {\"sinks\": [\n"
                      " {\"type\": \"webhook\", \"url\": \"https://hooks.example/x\"},\n"
                      " {\"type\": \"webhook\", \"name\": \"chat\", \"template\": \"matrix\",\n"
                      "  \"url\": \"http://m.example/send/{seq}\", \"secret\": \"k\",\n"
                      "  \"signature_header\": \"X-Sig\", \"headers\": {\"Authorization\": "
                      "\"Bearer t\"},\n"
                      "  \"retry_initial_ms\": 50, \"retry_max_s\": 2, \"max_attempts\": 7,\n"
                      "  \"timeout_s\": 5, \"topics\": [\"a-\"], \"start\": \"now\"},\n"
                      " {\"type\": \"webhook\", \"url\": \"http://n.example/t\", \"template\": "
                      "\"ntfy\", \"method\": \"PUT\"},\n"
                      " {\"type\": \"email\", \"url\": \"smtp://127.0.0.1:2525\",\n"
                      "  \"from\": \"na@example.org\", \"to\": [\"a@example.org\", "
                      "\"b@example.org\"]},\n"
                      " {\"type\": \"email\", \"name\": \"mail2\", \"url\": \"smtps://mx\", "
                      "\"from\": \"f@x\", \"to\": [\"t@x\"],\n"
                      "  \"username\": \"u\", \"password\": \"p\", \"starttls\": \"try\"}\n"
                      "]}}"));
    assert_int_equal(cfg->notifier.nsinks, 5);
    s = &cfg->notifier.sinks[0];
    assert_int_equal(s->type, SINK_WEBHOOK);
    assert_string_equal(s->name, "webhook:https://hooks.example/x");
    assert_string_equal(s->url, "https://hooks.example/x");
    assert_int_equal(s->tmpl, SINK_TEMPLATE_JSON);
    assert_string_equal(s->method, "POST");
    assert_null(s->secret);
    assert_string_equal(s->signature_header, "X-Newsalert-Signature");
    assert_int_equal(s->nheaders, 0);
    assert_int_equal(s->retry_initial_ms, 1000);
    assert_int_equal(s->retry_max_s, 300);
    assert_int_equal(s->max_attempts, 0);
    assert_int_equal(s->timeout_s, 30);
    assert_int_equal(s->start, SINK_START_OLDEST);
    s = &cfg->notifier.sinks[1];
    assert_string_equal(s->name, "chat");
    assert_int_equal(s->tmpl, SINK_TEMPLATE_MATRIX);
    assert_string_equal(s->method, "PUT");
    assert_string_equal(s->secret, "k");
    assert_string_equal(s->signature_header, "X-Sig");
    assert_int_equal(s->nheaders, 1);
    assert_string_equal(s->headers[0], "Authorization: Bearer t");
    assert_int_equal(s->retry_initial_ms, 50);
    assert_int_equal(s->retry_max_s, 2);
    assert_int_equal(s->max_attempts, 7);
    assert_int_equal(s->timeout_s, 5);
    assert_int_equal(s->start, SINK_START_NOW);
    assert_string_equal(s->topics[0], "a-");
    s = &cfg->notifier.sinks[2];
    assert_int_equal(s->tmpl, SINK_TEMPLATE_NTFY);
    assert_string_equal(s->method, "PUT");
    s = &cfg->notifier.sinks[3];
    assert_int_equal(s->type, SINK_EMAIL);
    assert_string_equal(s->name, "email:smtp://127.0.0.1:2525");
    assert_string_equal(s->from, "na@example.org");
    assert_int_equal(s->nto, 2);
    assert_string_equal(s->to[1], "b@example.org");
    assert_null(s->username);
    assert_int_equal(s->starttls, SINK_STARTTLS_REQUIRED);
    s = &cfg->notifier.sinks[4];
    assert_string_equal(s->username, "u");
    assert_string_equal(s->password, "p");
    assert_int_equal(s->starttls, SINK_STARTTLS_TRY);
    config_free(&cfg);
}

static void test_bad_remote_sinks(void **state)
{
    static const struct bad_sink cases[] = {
        {"{\"type\": \"webhook\"}", 3, "a webhook sink needs an http:// or https:// 'url'"},
        {"{\"type\": \"webhook\", \"url\": \"ftp://x\"}", 3, "needs an http:// or https://"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"template\": \"teams\"}", 42,
         "unknown template 'teams' (expected json, slack, discord, matrix or ntfy)"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"method\": \"GET\"}", 42,
         "unknown method 'GET'"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"secret\": \"\"}", 42,
         "'secret' must not be empty"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"headers\": {\"A B\": \"x\"}}", 54,
         "bad header 'A B'"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"headers\": {\"A\": \"x\\r\\nB: y\"}}",
         54, "bad header 'A'"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"headers\": [\"A: b\"]}", 42,
         "must be an object of strings"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"signature_header\": \"a:b\"}", 42,
         "bad header name 'a:b'"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"to\": [\"a@b\"]}", 3,
         "'to' is only for email sinks"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"retry_max_s\": 0}", 42,
         "retry_max_s"},
        {"{\"type\": \"webhook\", \"url\": \"http://x\", \"concurrency\": 2}", 3,
         "'concurrency' is only for exec sinks"},
        {"{\"type\": \"email\", \"url\": \"http://x\"}", 3,
         "an email sink needs an smtp:// or smtps:// 'url'"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"to\": [\"a@b\"]}", 3,
         "an email sink needs a 'from' address"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\"}", 3,
         "an email sink needs a non-empty 'to' array"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\", \"to\": []}", 55,
         "'notifier.sinks[0].to' is an empty list"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\", \"to\": [\"a\\r\\nb\"]}",
         62, "bad address"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\", \"to\": [\"t@x\"], "
         "\"username\": \"u\"}", 3, "'username' and 'password' go together"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\", \"to\": [\"t@x\"], "
         "\"starttls\": \"yes\"}", 70, "unknown starttls 'yes' (expected required, try or off)"},
        {"{\"type\": \"email\", \"url\": \"smtp://x\", \"from\": \"f@x\", \"to\": [\"t@x\"], "
         "\"template\": \"slack\"}", 3, "'template' is only for webhook sinks"},
        {"{\"type\": \"file\", \"path\": \"a\", \"url\": \"http://x\"}", 3,
         "'url' is only for webhook and email sinks"},
        {"{\"type\": \"stdout\", \"start\": \"newest\"}", 22,
         "unknown start 'newest' (expected oldest or now)"},
        {"{\"type\": \"stdout\", \"name\": \"\"}", 3, "a sink 'name' must not be empty"},
    };
    sinks_fail(*state, cases, sizeof(cases) / sizeof(cases[0]));
    /* names key the cursors: two sinks may not share one */
    config_fails(*state, "{\"notifier\": {\"sinks\": [{\"type\": \"stdout\"},\n"
                         "     {\"type\": \"stdout\", \"format\": \"json\"}]}}", 2, 6,
                 "duplicate sink name 'stdout'");
}

/* --- feedlist_load ---------------------------------------------------------- */

static void test_feedlist_fixture(void **state)
{
    struct config *cfg = load_ok(NA_TEST_DATA "/config/full/newsalert.json");
    struct feedlist *fl = NULL;
    char *bundled, want[PATH_MAX + 16];
    na_error err;

    (void)state;
    assert_int_equal(feedlist_load(cfg, &fl, &err), 0);
    assert_int_equal(fl->nfeeds, 4);
    assert_string_equal(fl->feeds[0].url, "https://feeds.bbci.co.uk/news/world/rss.xml");
    assert_string_equal(fl->feeds[0].name, "BBC World");
    /* defaults come from the config's fetcher section */
    assert_int_equal(fl->feeds[0].interval_s, 600);
    assert_int_equal(fl->feeds[0].max_age_s, 3600);
    assert_string_equal(fl->feeds[1].url, "http://example.org/feed.atom");
    assert_string_equal(fl->feeds[1].name, "http://example.org/feed.atom"); /* default: url */
    assert_int_equal(fl->feeds[1].interval_s, 60);
    assert_int_equal(fl->feeds[1].max_age_s, 3600);
    assert_string_equal(fl->feeds[2].url, "file:///srv/feeds/local.xml");
    assert_int_equal(fl->feeds[2].interval_s, 600);
    assert_int_equal(fl->feeds[2].max_age_s, 0);
    /* a bare path: resolved against the feeds file, absolute file:// URL */
    bundled = realpath(NA_TEST_DATA "/config/full/bundled/sample.xml", NULL);
    assert_non_null(bundled);
    snprintf(want, sizeof(want), "file://%s", bundled);
    free(bundled);
    assert_string_equal(fl->feeds[3].url, want);
    assert_string_equal(fl->feeds[3].name, "Bundled sample");
    assert_int_equal(fl->feeds[3].interval_s, 3600);
    assert_int_equal(fl->feeds[3].max_age_s, 86400);
    feedlist_free(&fl);
    assert_null(fl);
    feedlist_free(&fl);
    feedlist_free(NULL);
    config_free(&cfg);
}

/* Load <dir>/newsalert.json naming <dir>/feeds.json, which holds `feeds`. */
static int load_feeds(struct fixture *fx, const char *config_text, const char *feeds,
                      struct feedlist **fl, na_error *err)
{
    struct config *cfg;
    int rc;

    put(fx, "feeds.json", feeds);
    cfg = load_ok(put(fx, "newsalert.json", config_text));
    rc = feedlist_load(cfg, fl, err);
    config_free(&cfg);
    return rc;
}

static void feeds_fail(struct fixture *fx, const char *feeds, int line, int col,
                       const char *needle)
{
    struct feedlist *fl = (struct feedlist *)1;
    char want[700];
    na_error err;

    if (load_feeds(fx, "{}", feeds, &fl, &err) == 0)
        fail_msg("feeds accepted: %s", feeds);
    assert_null(fl);
    if (line > 0)
        snprintf(want, sizeof(want), "%s/feeds.json:%d:%d: ", fx->dir, line, col);
    else
        snprintf(want, sizeof(want), "%s/feeds.json: ", fx->dir);
    if (strncmp(err.msg, want, strlen(want)) != 0 || err.line != line || err.column != col)
        fail_msg("for %s\nexpected '%s...' (%d:%d)\ngot      '%s' (%d:%d)", feeds, want, line,
                 col, err.msg, err.line, err.column);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' does not say '%s'", err.msg, needle);
    assert_int_equal(load_feeds(fx, "{}", feeds, &fl, NULL), -1);
    assert_null(fl);
}

static void test_feedlist_defaults(void **state)
{
    struct fixture *fx = *state;
    struct feedlist *fl = NULL;
    na_error err;

    /* the built-in defaults: 300 s and two days */
    assert_int_equal(load_feeds(fx, "{}", "{\"feeds\": [{\"url\": \"https://a.example/rss\"}]}",
                                &fl, &err), 0);
    assert_int_equal(fl->nfeeds, 1);
    assert_int_equal(fl->feeds[0].interval_s, 300);
    assert_int_equal(fl->feeds[0].max_age_s, 172800);
    assert_string_equal(fl->feeds[0].name, "https://a.example/rss");
    feedlist_free(&fl);

    /* from the config, and overridden per feed (max_age_s 0: no limit) */
    assert_int_equal(load_feeds(fx, "{\"fetcher\": {\"interval_s\": 900, \"max_age_s\": 0}}",
                                "{\"feeds\": [{\"url\": \"https://a.example/rss\"},\n"
                                " {\"url\": \"https://b.example/rss\", \"interval_s\": 30,\n"
                                "  \"max_age_s\": 7200}]}",
                                &fl, &err), 0);
    assert_int_equal(fl->nfeeds, 2);
    assert_int_equal(fl->feeds[0].interval_s, 900);
    assert_int_equal(fl->feeds[0].max_age_s, 0);
    assert_int_equal(fl->feeds[1].interval_s, 30);
    assert_int_equal(fl->feeds[1].max_age_s, 7200);
    feedlist_free(&fl);

    /* an empty list is a valid (idle) list */
    assert_int_equal(load_feeds(fx, "{}", "{\"feeds\": []}", &fl, &err), 0);
    assert_int_equal(fl->nfeeds, 0);
    feedlist_free(&fl);
}

static void test_feedlist_urls(void **state)
{
    struct fixture *fx = *state;
    struct feedlist *fl = NULL;
    char *real, want[PATH_MAX + 16];
    na_error err;

    put(fx, "local/a.xml", "<rss/>");
    assert_int_equal(load_feeds(fx, "{}",
                                "{\"feeds\": [{\"url\": \"local/a.xml\"},\n"
                                "  {\"url\": \"file:///x/y.xml\"},\n"
                                "  {\"url\": \"http://h.example:8080/f?x=1&y=2\"},\n"
                                "  {\"url\": \"https://h.example/f\"}]}",
                                &fl, &err), 0);
    real = realpath(in_dir(fx, "local/a.xml", want, sizeof(want)), NULL);
    assert_non_null(real);
    snprintf(want, sizeof(want), "file://%s", real);
    free(real);
    assert_string_equal(fl->feeds[0].url, want);
    assert_string_equal(fl->feeds[0].name, "local/a.xml");
    assert_string_equal(fl->feeds[1].url, "file:///x/y.xml");
    assert_string_equal(fl->feeds[2].url, "http://h.example:8080/f?x=1&y=2");
    assert_string_equal(fl->feeds[3].url, "https://h.example/f");
    feedlist_free(&fl);

    /* an absolute bare path works too */
    real = realpath(in_dir(fx, "local/a.xml", want, sizeof(want)), NULL);
    assert_non_null(real);
    {
        char feeds[PATH_MAX + 64];
        snprintf(feeds, sizeof(feeds), "{\"feeds\": [{\"url\": \"%s\"}]}", real);
        assert_int_equal(load_feeds(fx, "{}", feeds, &fl, &err), 0);
        snprintf(want, sizeof(want), "file://%s", real);
        assert_string_equal(fl->feeds[0].url, want);
        feedlist_free(&fl);
    }
    free(real);
}

static void test_feedlist_bad_urls(void **state)
{
    static const char *const bad[] = {
        "ftp://h.example/f.xml", "gopher://h.example/", "javascript://x", "HTTP://h.example/",
        "",
    };
    struct fixture *fx = *state;
    char feeds[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* the "url" key is at line 2, column 4 */
        snprintf(feeds, sizeof(feeds), "{\"feeds\": [\n  {\"url\": \"%s\"}]}", bad[i]);
        feeds_fail(fx, feeds, 2, 4, "is not http://, https://, file:// or a file path");
    }
    /* a bundled file that is not there */
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a.example/\"},\n"
                   "  {\"url\": \"missing/feed.xml\"}]}", 2, 4,
               "feed file 'missing/feed.xml' does not exist");
}

static void test_feedlist_duplicates(void **state)
{
    struct fixture *fx = *state;

    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a.example/rss\"},\n"
                   " {\"url\": \"https://b.example/rss\"},\n"
                   " {\"name\": \"again\", \"url\": \"https://a.example/rss\"}]}",
               3, 20, "duplicate feed url 'https://a.example/rss' (also feeds[0])");
    /* two spellings of the same bundled file */
    put(fx, "a.xml", "<rss/>");
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"a.xml\"},\n {\"url\": \"./a.xml\"}]}", 2, 3,
               "duplicate feed url './a.xml' (also feeds[0])");
}

static void test_feedlist_bad_files(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    struct feedlist *fl = (struct feedlist *)1;
    na_error err;

    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a.example/\",\n"
                   "  \"interval\": 60}]}", 2, 3, "unknown key 'interval' in feeds[0]");
    feeds_fail(fx, "{\"feeds\": [], \"rules\": []}", 1, 15, "unknown key 'rules'");
    feeds_fail(fx, "{}", 1, 1, "'feeds' must be an array of feeds");
    feeds_fail(fx, "{\"feeds\": {}}", 1, 2, "'feeds' must be an array of feeds");
    feeds_fail(fx, "[]", 1, 1, "the top level must be an object");
    feeds_fail(fx, "{\"feeds\": [\"https://a.example/\"]}", 1, 12, "feeds[0] must be an object");
    feeds_fail(fx, "{\"feeds\": [{\"name\": \"x\"}]}", 1, 12,
               "missing required key 'feeds[0].url'");
    feeds_fail(fx, "{\"feeds\": [{\"url\": 5}]}", 1, 13, "'feeds[0].url' must be a string");
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a/\", \"name\": []}]}", 1, 34,
               "'feeds[0].name' must be a string");
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a/\", \"interval_s\": 0}]}", 1, 34,
               "'feeds[0].interval_s' must be between 1 and 604800, not 0");
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a/\", \"interval_s\": \"60\"}]}", 1, 34,
               "'feeds[0].interval_s' must be an integer");
    feeds_fail(fx, "{\"feeds\": [{\"url\": \"https://a/\", \"max_age_s\": -5}]}", 1, 34,
               "'feeds[0].max_age_s' must be between 0 and");
    feeds_fail(fx, "{\"feeds\": [\n{\"url\": \"https://a/\"}\n{\"url\": \"https://b/\"}]}", 3, 1,
               "");

    /* the feeds file itself is missing: the message names it */
    cfg = load_ok(put(fx, "other/newsalert.json", "{\"feeds\": \"nowhere.json\"}"));
    assert_int_equal(feedlist_load(cfg, &fl, &err), -1);
    assert_null(fl);
    assert_true(strncmp(err.msg, cfg->feeds_path, strlen(cfg->feeds_path)) == 0);
    assert_non_null(strstr(err.msg, "nowhere.json: cannot open"));
    config_free(&cfg);
}

/* --- the production examples ------------------------------------------------ */

static void test_production_config(void **state)
{
    const char *dir = NA_SOURCE_DIR "/config/production";
    struct config *cfg = load_ok(NA_SOURCE_DIR "/config/production/newsalert.json");
    struct feedlist *fl = NULL;
    na_error err;
    size_t i, j;

    (void)state;
    assert_string_equal(cfg->state_dir, "/var/lib/newsalert");
    assert_true(strncmp(cfg->feeds_path, dir, strlen(dir)) == 0);
    assert_true(strncmp(cfg->rules_path, dir, strlen(dir)) == 0);
    assert_int_equal(access(cfg->rules_path, R_OK), 0);
    assert_string_equal(cfg->items_endpoint, "tcp://127.0.0.1:5601");
    assert_string_equal(cfg->alerts_endpoint, "tcp://127.0.0.1:5602");
    assert_string_equal(cfg->replay_endpoint, "tcp://127.0.0.1:5603");
    assert_int_equal(cfg->notifier.nsinks, 2);
    assert_int_equal(cfg->notifier.sinks[0].type, SINK_STDOUT);
    assert_int_equal(cfg->notifier.sinks[1].type, SINK_FILE);
    assert_string_equal(cfg->notifier.sinks[1].path, "/var/lib/newsalert/alerts.jsonl");

    if (feedlist_load(cfg, &fl, &err) != 0)
        fail_msg("production feeds: %s", err.msg);
    assert_true(fl->nfeeds >= 12);
    for (i = 0; i < fl->nfeeds; i++) {
        if (strncmp(fl->feeds[i].url, "https://", 8) != 0)
            fail_msg("production feed %zu is not https: %s", i, fl->feeds[i].url);
        if (strcmp(fl->feeds[i].name, fl->feeds[i].url) == 0)
            fail_msg("production feed %zu has no name", i);
        for (j = 0; j < i; j++)
            assert_string_not_equal(fl->feeds[i].name, fl->feeds[j].name);
    }
    feedlist_free(&fl);
    config_free(&cfg);
}

/* The demo deployment (config/demo) runs from the source tree: its bundled
 * feeds must exist. */
static void test_demo_config(void **state)
{
    struct config *cfg = load_ok(NA_SOURCE_DIR "/config/demo/newsalert.json");
    struct feedlist *fl = NULL;
    na_error err;
    size_t i;

    (void)state;
    if (feedlist_load(cfg, &fl, &err) != 0)
        fail_msg("demo feeds: %s", err.msg);
    assert_true(fl->nfeeds > 0);
    for (i = 0; i < fl->nfeeds; i++)
        if (strncmp(fl->feeds[i].url, "file:///", 8) == 0)
            assert_int_equal(access(fl->feeds[i].url + 7, R_OK), 0);
    feedlist_free(&fl);
    config_free(&cfg);
}

/* --- fetcher.ca_file (http2: the CAs trusted for https feeds) ---------- */

static void test_fetcher_ca_file(void **state)
{
    struct fixture *fx = *state;
    struct config *cfg;
    char want[600];

    /* default: libcurl's own bundle */
    cfg = load_ok(put(fx, "newsalert.json", "{\"fetcher\": {\"per_host\": 2}}"));
    assert_null(cfg->fetcher.ca_file);
    config_free(&cfg);
    /* a relative path is resolved against the config file's directory */
    put(fx, "certs/ca.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    cfg = load_ok(put(fx, "newsalert.json", "{\"fetcher\": {\"ca_file\": \"certs/ca.pem\"}}"));
    assert_string_equal(cfg->fetcher.ca_file, in_dir(fx, "certs/ca.pem", want, sizeof(want)));
    config_free(&cfg);
    /* an absolute path is kept */
    snprintf(want, sizeof(want), "{\"fetcher\": {\"ca_file\": \"%s/certs/ca.pem\"}}", fx->dir);
    cfg = load_ok(put(fx, "newsalert.json", want));
    assert_string_equal(cfg->fetcher.ca_file, in_dir(fx, "certs/ca.pem", want, sizeof(want)));
    config_free(&cfg);
    /* wrong types, empty, missing, a directory: file:line:col of the member */
    config_fails(fx, "{\"fetcher\": {\n    \"ca_file\": true}}", 2, 5,
                 "'fetcher.ca_file' must be a string");
    config_fails(fx, "{\"fetcher\": {\n    \"ca_file\": [\"a.pem\"]}}", 2, 5,
                 "'fetcher.ca_file' must be a string");
    config_fails(fx, "{\"fetcher\": {\n    \"ca_file\": \"\"}}", 2, 5,
                 "'fetcher.ca_file' must not be empty");
    config_fails(fx, "{\"fetcher\": {\"interval_s\": 60,\n  \"ca_file\": \"nope/ca.pem\"}}", 2,
                 3, "cannot read 'fetcher.ca_file'");
    config_fails(fx, "{\"fetcher\": {\n    \"ca_file\": \"nope/ca.pem\"}}", 2, 5,
                 "nope/ca.pem': No such file or directory");
    config_fails(fx, "{\"fetcher\": {\n    \"ca_file\": \"certs\"}}", 2, 5,
                 "certs' is not a file");
    config_fails(fx, "{\"fetcher\": {\n    \"cafile\": \"certs/ca.pem\"}}", 2, 5,
                 "unknown key 'cafile' in fetcher");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test(test_defaults_fixture),
        cmocka_unit_test_setup_teardown(test_empty_sections_keep_defaults, setup, teardown),
        cmocka_unit_test(test_full_fixture),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matcher_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_sinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_remote_sinks, setup, teardown),
        cmocka_unit_test(test_feedlist_fixture),
        cmocka_unit_test_setup_teardown(test_feedlist_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedlist_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedlist_bad_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedlist_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feedlist_bad_files, setup, teardown),
        cmocka_unit_test(test_production_config),
        cmocka_unit_test(test_demo_config),
        cmocka_unit_test_setup_teardown(test_fetcher_ca_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * cmd_feeds.c - `newsalert feeds -c FILE [--json]`: every feed of the
 * feeds file with its polling state, read from state_dir/fetcher.db
 * without writing to it (so it works while newsalert-fetcher runs).
 *
 * Status: "never polled", "ok", "retrying" (failed fewer than
 * STORE_FAILING_AFTER times in a row) or "failing".  The default output is
 * a table for people (times in UTC, the last error under its feed);
 * --json prints one JSON array for scripts, one object per feed with
 * name, url, status, failures, last_success, last_error, last_error_at,
 * next_poll (RFC 3339 strings, null when never) and items_seen.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "date.h"
#include "store.h"

#define FEEDS_USAGE "usage: newsalert feeds -c FILE [--json]\n"

/* "YYYY-MM-DD HH:MM:SS" (UTC) of t into buf, "-" when t is 0. */
static const char *feeds_time(int64_t t, char *buf)
{
    char iso[DATE_RFC3339_SIZE];

    if (t == 0) {
        snprintf(buf, DATE_RFC3339_SIZE, "-");
        return buf;
    }
    date_format(t, iso);
    snprintf(buf, DATE_RFC3339_SIZE, "%.10s %.8s", iso, iso + 11);
    return buf;
}

/* An RFC 3339 string, or JSON null when t is 0. */
static json_t *feeds_json_time(int64_t t)
{
    char iso[DATE_RFC3339_SIZE];

    if (t == 0)
        return json_null();
    return json_string(date_format(t, iso));
}

static json_t *feeds_json_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* One feed as a JSON object, or NULL when out of memory. */
static json_t *feeds_json_one(const struct feed_conf *fc, const struct store_feed_state *st)
{
    json_t *o = json_object();

    if (o == NULL ||
        json_object_set_new(o, "name", json_string(fc->name)) != 0 ||
        json_object_set_new(o, "url", json_string(fc->url)) != 0 ||
        json_object_set_new(o, "status", json_string(store_feed_status(st))) != 0 ||
        json_object_set_new(o, "failures", json_integer(st->failures)) != 0 ||
        json_object_set_new(o, "last_success", feeds_json_time(st->last_ok)) != 0 ||
        json_object_set_new(o, "last_error", feeds_json_str(st->last_error)) != 0 ||
        json_object_set_new(o, "last_error_at", feeds_json_time(st->last_error_at)) != 0 ||
        json_object_set_new(o, "next_poll", feeds_json_time(st->next_poll)) != 0 ||
        json_object_set_new(o, "items_seen", json_integer(st->items_seen)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void feeds_table_row(const struct feed_conf *fc, const struct store_feed_state *st)
{
    char ok[DATE_RFC3339_SIZE], next[DATE_RFC3339_SIZE], errat[DATE_RFC3339_SIZE];
    int named = strcmp(fc->name, fc->url) != 0;

    printf("%-12s  %-19s  %-19s  %9lld  %s%s%s%s\n", store_feed_status(st),
           feeds_time(st->last_ok, ok), feeds_time(st->next_poll, next),
           (long long)st->items_seen, named ? fc->name : fc->url, named ? " (" : "",
           named ? fc->url : "", named ? ")" : "");
    if (st->last_error != NULL)
        printf("              last error %s (%d in a row): %s\n",
               feeds_time(st->last_error_at, errat), st->failures, st->last_error);
}

int cmd_feeds(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    struct config *cfg = NULL;
    struct feedlist *fl = NULL;
    struct store *store = NULL;
    json_t *arr = NULL;
    char dbpath[4096];
    size_t i, nfailing = 0, nok = 0, nnever = 0;
    struct stat sb;
    na_error err;
    int c, json = 0, rc = 1, n;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            printf(FEEDS_USAGE);
            return 0;
        default:
            fprintf(stderr, FEEDS_USAGE);
            return 2;
        }
    }
    if (config_path == NULL || optind != argc) {
        fprintf(stderr, FEEDS_USAGE);
        return 2;
    }
    na_error_clear(&err);
    if (config_load(config_path, &cfg, &err) != 0 || feedlist_load(cfg, &fl, &err) != 0) {
        fprintf(stderr, "newsalert: %s\n", err.msg);
        goto out;
    }
    n = snprintf(dbpath, sizeof(dbpath), "%s/%s", cfg->state_dir, STORE_FETCHER_DB_NAME);
    if (n < 0 || (size_t)n >= sizeof(dbpath)) {
        fprintf(stderr, "newsalert: state directory path too long: '%s'\n", cfg->state_dir);
        goto out;
    }
    /* no database yet: the fetcher never ran, every feed is "never polled" */
    if (stat(dbpath, &sb) == 0) {
        if (store_open_readonly(dbpath, &store, &err) != 0) {
            fprintf(stderr, "newsalert: %s\n", err.msg);
            goto out;
        }
    } else if (errno != ENOENT) {
        fprintf(stderr, "newsalert: %s: %s\n", dbpath, strerror(errno));
        goto out;
    }
    if (json && (arr = json_array()) == NULL)
        goto oom;
    if (!json)
        printf("%-12s  %-19s  %-19s  %9s  %s\n", "STATUS", "LAST SUCCESS (UTC)",
               "NEXT POLL (UTC)", "ITEMS", "FEED");
    for (i = 0; i < fl->nfeeds; i++) {
        struct store_feed_state st;
        const char *status;

        memset(&st, 0, sizeof(st));
        if (store != NULL && store_feed_get(store, fl->feeds[i].url, &st) < 0) {
            fprintf(stderr, "newsalert: %s\n", store_errmsg(store));
            goto out;
        }
        status = store_feed_status(&st);
        nfailing += strcmp(status, "failing") == 0;
        nok += strcmp(status, "ok") == 0;
        nnever += strcmp(status, "never polled") == 0;
        if (json) {
            json_t *o = feeds_json_one(&fl->feeds[i], &st);

            if (o == NULL || json_array_append_new(arr, o) != 0) {
                store_feed_state_clear(&st);
                goto oom;
            }
        } else {
            feeds_table_row(&fl->feeds[i], &st);
        }
        store_feed_state_clear(&st);
    }
    if (json) {
        if (json_dumpf(arr, stdout, JSON_INDENT(2)) != 0)
            goto oom;
        putchar('\n');
    } else {
        printf("%zu feed%s: %zu ok, %zu failing, %zu retrying, %zu never polled\n",
               fl->nfeeds, fl->nfeeds == 1 ? "" : "s", nok, nfailing,
               fl->nfeeds - nok - nfailing - nnever, nnever);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto out;

oom:
    fprintf(stderr, "newsalert: out of memory\n");
out:
    json_decref(arr);
    store_close(&store);
    feedlist_free(&fl);
    config_free(&cfg);
    return rc;
}

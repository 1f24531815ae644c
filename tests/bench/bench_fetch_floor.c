/*
 * bench_fetch_floor.c - the parsing floor of the fetch benchmark: libxml2's
 * bare parse (jansson's for *.json files) of the same bytes the fetcher
 * downloads, on one core (bench_bare.h).
 *
 * Every regular file of the given directories (or the given files) is read
 * into memory first; then each round parses every file once, and the best
 * round's wall and CPU time count (the machine may be shared).  Prints one
 * JSON line: {"files": N, "bytes": B, "rounds": R, "secs": S, "cpu_secs": C}.
 * bench_fetch.py adds it to curl's wall time ("curl + bare parse"): a
 * fetcher that must read every document cannot beat that on one core.
 *
 * With --sax each XML file is only read by libxml2's tokenizer, with a SAX
 * handler that has no callbacks (no tree, no strings kept): the least any
 * program that reads the XML with libxml2 can spend, a lower floor than
 * the tree the issue names as the floor.
 *
 * Usage: bench_fetch_floor [--rounds N] [--sax] DIR|FILE...
 * Exit status 0, or 1 when a file cannot be read or parsed.
 */
#include <dirent.h>
#include <libxml/parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_bare.h"

#define PROG "bench_fetch_floor"

struct floor_file {
    char *name;
    char *buf;
    size_t len;
    int is_json;
};

struct floor_set {
    struct floor_file *files;
    size_t n, cap;
    size_t bytes;
};

/* Read path into a new entry of set.  Returns 0 or -1 (message printed). */
static int floor_add(struct floor_set *set, const char *path)
{
    struct floor_file *f;
    FILE *fp;
    struct stat sb;
    size_t len;

    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 256;
        struct floor_file *grown = realloc(set->files, cap * sizeof(*grown));

        if (grown == NULL) {
            fprintf(stderr, PROG ": out of memory\n");
            return -1;
        }
        set->files = grown;
        set->cap = cap;
    }
    f = &set->files[set->n];
    memset(f, 0, sizeof(*f));
    if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &sb) != 0) {
        perror(path);
        if (fp != NULL)
            fclose(fp);
        return -1;
    }
    len = (size_t)sb.st_size;
    f->name = strdup(path);
    f->buf = malloc(len + 1);
    if (f->name == NULL || f->buf == NULL || fread(f->buf, 1, len, fp) != len) {
        fprintf(stderr, PROG ": %s: cannot read it\n", path);
        fclose(fp);
        free(f->name);
        free(f->buf);
        return -1;
    }
    fclose(fp);
    f->buf[len] = '\0';
    f->len = len;
    len = strlen(path);
    f->is_json = len > 5 && strcmp(path + len - 5, ".json") == 0;
    set->bytes += f->len;
    set->n++;
    return 0;
}

/* Add path: a regular file, or every regular file of a directory. */
static int floor_add_path(struct floor_set *set, const char *path)
{
    struct stat sb;
    struct dirent *de;
    DIR *d;
    int rc = 0;

    if (stat(path, &sb) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode))
        return floor_add(set, path);
    if ((d = opendir(path)) == NULL) {
        perror(path);
        return -1;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char full[4096];
        int n;

        if (de->d_name[0] == '.')
            continue;
        n = snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(full)) {
            fprintf(stderr, PROG ": %s/%s: path too long\n", path, de->d_name);
            rc = -1;
        } else if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode)) {
            rc = floor_add(set, full);
        }
    }
    closedir(d);
    return rc;
}

/* libxml2's tokenizer alone over one document (--sax).  Returns 0 or -1. */
static int floor_sax(const struct floor_file *f)
{
    static xmlSAXHandler none; /* no callbacks: SAX1, nothing built */

    if (f->is_json)
        return bench_bare_parse(f->buf, f->len, 1, PROG, f->name);
    if (f->len > INT_MAX) {
        fprintf(stderr, PROG ": %s: too large for libxml2\n", f->name);
        return -1;
    }
    /* a recoverable error is still a read of every byte; only a refusal
     * to start (not XML at all) is a failure */
    if (xmlSAXUserParseMemory(&none, NULL, f->buf, (int)f->len) < 0) {
        fprintf(stderr, PROG ": %s: libxml2 could not read it\n", f->name);
        return -1;
    }
    return 0;
}

static double floor_now(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct floor_set set = {0};
    double best = -1, best_cpu = -1;
    int rounds = 3, sax = 0, i, rc = 0;
    size_t k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
            if (rounds < 1)
                rounds = 1;
        } else if (strcmp(argv[i], "--sax") == 0) {
            sax = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: " PROG " [--rounds N] [--sax] DIR|FILE...\n");
            return 1;
        } else if (floor_add_path(&set, argv[i]) != 0) {
            rc = 1;
            break;
        }
    }
    if (rc == 0 && set.n == 0) {
        fprintf(stderr, PROG ": no files to parse\n");
        rc = 1;
    }
    xmlInitParser();
    for (i = 0; rc == 0 && i < rounds; i++) {
        double t0 = floor_now(CLOCK_MONOTONIC), c0 = floor_now(CLOCK_PROCESS_CPUTIME_ID);
        double t, c;

        for (k = 0; k < set.n && rc == 0; k++)
            if (sax ? floor_sax(&set.files[k]) != 0
                    : bench_bare_parse(set.files[k].buf, set.files[k].len, set.files[k].is_json,
                                       PROG, set.files[k].name) != 0)
                rc = 1;
        t = floor_now(CLOCK_MONOTONIC) - t0;
        c = floor_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (best < 0 || t < best)
            best = t;
        if (best_cpu < 0 || c < best_cpu)
            best_cpu = c;
    }
    if (rc == 0)
        printf("{\"files\": %zu, \"bytes\": %zu, \"rounds\": %d, \"secs\": %.6f, "
               "\"cpu_secs\": %.6f}\n",
               set.n, set.bytes, rounds, best, best_cpu);
    for (k = 0; k < set.n; k++) {
        free(set.files[k].name);
        free(set.files[k].buf);
    }
    free(set.files);
    xmlCleanupParser();
    return rc;
}

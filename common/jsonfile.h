/*
 * jsonfile.h - strict loading of JSON configuration files.
 *
 * jansson parses the text; this module keeps the text beside the tree so
 * that a problem found after parsing (an unknown key, a wrong type, a bad
 * rule query) can still be reported as "file:line:column: problem".  The
 * locator walks the raw text along a path such as "rules[3].query"; it
 * only tracks strings and brackets, it does not parse JSON again.
 *
 * Every getter is for untrusted input: a wrong type or a value out of range
 * is an error naming the file, the position and the key.
 */
#ifndef NEWSALERT_JSONFILE_H
#define NEWSALERT_JSONFILE_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

struct jsonfile {
    char *path;    /* as given to jsonfile_open */
    char *text;    /* raw text, NUL-terminated */
    size_t len;
    json_t *root;  /* owned */
};

/* Read and parse a JSON file.  Syntax errors are "path:line:col: msg".
 * Returns 0 and sets *out, or -1. */
int jsonfile_open(const char *path, struct jsonfile **out, na_error *err);

/* Parse JSON text held in memory; `name` stands for the file in messages. */
int jsonfile_parse(const char *name, const char *text, size_t len,
                   struct jsonfile **out, na_error *err);

/* Free *pf and its tree, set *pf to NULL.  NULL-safe. */
void jsonfile_close(struct jsonfile **pf);

/* Find where the value at `path` starts in the text ("" is the root,
 * "feeds[2].url", "notifier.sinks[0]").  For an object member the position
 * is that of its key.  Sets *line and *col (1-based); 0/0 when not found. */
void jsonfile_locate(const struct jsonfile *f, const char *path, int *line, int *col);

/* Set *err to "file:line:col: <formatted>" at the position of `path`.
 * Returns -1. */
int jsonfile_error(const struct jsonfile *f, na_error *err, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Check that object `obj` (found at `path`) has only keys from the
 * NULL-terminated `allowed` list; else an error on the first unknown key.
 * A non-object is an error too.  Returns 0 or -1. */
int jsonfile_check_keys(const struct jsonfile *f, json_t *obj, const char *path,
                        const char *const allowed[], na_error *err);

/* Typed members of object `obj` at `path`.  When the key is absent the
 * output is left untouched and 0 is returned, unless `required` is set.
 * *out of get_string borrows from the tree. */
int jsonfile_get_string(const struct jsonfile *f, json_t *obj, const char *path,
                        const char *key, int required, const char **out, na_error *err);
int jsonfile_get_int(const struct jsonfile *f, json_t *obj, const char *path,
                     const char *key, int required, long long min, long long max,
                     long long *out, na_error *err);
int jsonfile_get_bool(const struct jsonfile *f, json_t *obj, const char *path,
                      const char *key, int required, int *out, na_error *err);

/* Resolve `rel` against the directory of the file `base_file`; an absolute
 * `rel` is returned as is.  The result is the caller's to free (NULL: ENOMEM). */
char *jsonfile_resolve(const char *base_file, const char *rel);

#endif

/*
 * jsonfile.c - strict loading of JSON configuration files (see jsonfile.h).
 *
 * jansson reports positions only for syntax errors.  For problems found in
 * the parsed tree we walk the raw text along the value's path; the walker
 * knows just enough JSON lexing (strings with escapes, brackets, commas) to
 * skip over values, and gives up (position 0:0) on anything unexpected.
 */
#include "jsonfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define JSONFILE_MAX_SIZE (64 * 1024 * 1024)

int jsonfile_parse(const char *name, const char *text, size_t len,
                   struct jsonfile **out, na_error *err)
{
    struct jsonfile *f;
    json_error_t jerr;

    *out = NULL;
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return na_error_set(err, 0, 0, "%s: out of memory", name);
    if ((f->path = strdup(name)) == NULL || (f->text = malloc(len + 1)) == NULL) {
        jsonfile_close(&f);
        return na_error_set(err, 0, 0, "%s: out of memory", name);
    }
    memcpy(f->text, text, len);
    f->text[len] = '\0';
    f->len = len;
    f->root = json_loadb(f->text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (f->root == NULL) {
        na_error_set(err, jerr.line, jerr.column, "%s:%d:%d: %s", name, jerr.line,
                     jerr.column, jerr.text);
        jsonfile_close(&f);
        return -1;
    }
    *out = f;
    return 0;
}

int jsonfile_open(const char *path, struct jsonfile **out, na_error *err)
{
    char *buf;
    size_t len;
    int rc;

    *out = NULL;
    if (fileio_read_all(path, JSONFILE_MAX_SIZE, &buf, &len, err) != 0)
        return -1;
    rc = jsonfile_parse(path, buf, len, out, err);
    free(buf);
    return rc;
}

void jsonfile_close(struct jsonfile **pf)
{
    if (pf == NULL || *pf == NULL)
        return;
    json_decref((*pf)->root);
    free((*pf)->path);
    free((*pf)->text);
    free(*pf);
    *pf = NULL;
}

/* --- the locator ------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': return the position after the closing quote (or end). */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            if (++p >= end)
                break;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return end;
}

/* Skip one value starting at p (after white space). */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;

    if (p < end && *p == '"')
        return skip_string(p, end);
    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p;
            if (--depth == 0)
                return p + 1;
        } else if (*p == ',' && depth == 0) {
            return p;
        }
        p++;
    }
    return end;
}

/* Does the string token [kstart, kend) (quotes included) spell `key`?  A
 * key written with escapes ("caf\u00e9") is decoded by jansson first. */
static int key_equals(const char *kstart, const char *kend, const char *key, size_t klen)
{
    size_t toklen = (size_t)(kend - kstart);
    json_t *decoded;
    int same;

    if (memchr(kstart, '\\', toklen) == NULL)
        return toklen == klen + 2 && memcmp(kstart + 1, key, klen) == 0;
    if ((decoded = json_loadb(kstart, toklen, JSON_DECODE_ANY, NULL)) == NULL)
        return 0;
    same = json_is_string(decoded) && json_string_length(decoded) == klen &&
           memcmp(json_string_value(decoded), key, klen) == 0;
    json_decref(decoded);
    return same;
}

/* Find the member `key` (klen bytes) of the object at p.  Returns the
 * position of its key's opening quote and sets *value, or NULL. */
static const char *find_member(const char *p, const char *end, const char *key,
                               size_t klen, const char **value)
{
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p++;
    for (;;) {
        const char *kstart, *kend;
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return NULL;
        kstart = p;
        kend = skip_string(p, end);
        p = skip_ws(kend, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        if (key_equals(kstart, kend, key, klen)) {
            *value = p;
            return kstart;
        }
        p = skip_ws(skip_value(p, end), end);
        if (p >= end || *p != ',')
            return NULL;
        p++;
    }
}

/* Find element `index` of the array at p; returns its start or NULL. */
static const char *find_element(const char *p, const char *end, long index)
{
    long i;

    p = skip_ws(p, end);
    if (p >= end || *p != '[')
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return NULL;
    for (i = 0; i < index; i++) {
        p = skip_ws(skip_value(p, end), end);
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
    return p < end ? p : NULL;
}

void jsonfile_locate(const struct jsonfile *f, const char *path, int *line, int *col)
{
    const char *p, *end, *at, *s, *q;
    int l = 1, c = 1;

    *line = *col = 0;
    if (f == NULL || f->text == NULL)
        return;
    end = f->text + f->len;
    at = p = skip_ws(f->text, end);
    for (s = path; *s != '\0';) {
        if (*s == '[') {
            char *after;
            long index = strtol(s + 1, &after, 10);
            if (*after != ']' || index < 0)
                return;
            if ((p = find_element(p, end, index)) == NULL)
                return;
            at = p;
            s = after + 1;
        } else {
            const char *value;
            if (*s == '.')
                s++;
            for (q = s; *q != '\0' && *q != '.' && *q != '['; q++)
                ;
            if ((at = find_member(p, end, s, (size_t)(q - s), &value)) == NULL)
                return;
            p = value;
            s = q;
        }
    }
    for (q = f->text; q < at; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

int jsonfile_error(const struct jsonfile *f, na_error *err, const char *path,
                   const char *fmt, ...)
{
    char msg[768];
    int line, col;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    jsonfile_locate(f, path, &line, &col);
    if (line > 0)
        return na_error_set(err, line, col, "%s:%d:%d: %s", f->path, line, col, msg);
    return na_error_set(err, 0, 0, "%s: %s", f->path, msg);
}

/* "path.key" into buf. */
static const char *member_path(char *buf, size_t size, const char *path, const char *key)
{
    if (snprintf(buf, size, "%s%s%s", path, path[0] != '\0' ? "." : "", key) >= (int)size)
        buf[size - 1] = '\0'; /* cut: only used in messages and for locating */
    return buf;
}

int jsonfile_check_keys(const struct jsonfile *f, json_t *obj, const char *path,
                        const char *const allowed[], na_error *err)
{
    char where[512];
    const char *key;
    json_t *value;
    size_t i;

    if (!json_is_object(obj))
        return jsonfile_error(f, err, path, "%s must be an object",
                              path[0] != '\0' ? path : "the top level");
    json_object_foreach(obj, key, value) {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL) {
            /* a key holding '.' or '[' (or too long for the buffer) would
             * send the locator elsewhere: point at the object instead */
            const char *at = path;
            if (strpbrk(key, ".[") == NULL && strlen(path) + strlen(key) + 2 <= sizeof(where))
                at = member_path(where, sizeof(where), path, key);
            return jsonfile_error(f, err, at, "unknown key '%.200s'%s%s", key,
                                  path[0] != '\0' ? " in " : "", path);
        }
    }
    return 0;
}

int jsonfile_get_string(const struct jsonfile *f, json_t *obj, const char *path,
                        const char *key, int required, const char **out, na_error *err)
{
    char where[512];
    json_t *v = json_object_get(obj, key);

    member_path(where, sizeof(where), path, key);
    if (v == NULL) {
        if (required)
            return jsonfile_error(f, err, path, "missing required key '%s'", where);
        return 0;
    }
    if (!json_is_string(v))
        return jsonfile_error(f, err, where, "'%s' must be a string", where);
    *out = json_string_value(v);
    return 0;
}

int jsonfile_get_int(const struct jsonfile *f, json_t *obj, const char *path,
                     const char *key, int required, long long min, long long max,
                     long long *out, na_error *err)
{
    char where[512];
    json_t *v = json_object_get(obj, key);
    long long n;

    member_path(where, sizeof(where), path, key);
    if (v == NULL) {
        if (required)
            return jsonfile_error(f, err, path, "missing required key '%s'", where);
        return 0;
    }
    if (!json_is_integer(v))
        return jsonfile_error(f, err, where, "'%s' must be an integer", where);
    n = json_integer_value(v);
    if (n < min || n > max)
        return jsonfile_error(f, err, where, "'%s' must be between %lld and %lld, not %lld",
                              where, min, max, n);
    *out = n;
    return 0;
}

int jsonfile_get_bool(const struct jsonfile *f, json_t *obj, const char *path,
                      const char *key, int required, int *out, na_error *err)
{
    char where[512];
    json_t *v = json_object_get(obj, key);

    member_path(where, sizeof(where), path, key);
    if (v == NULL) {
        if (required)
            return jsonfile_error(f, err, path, "missing required key '%s'", where);
        return 0;
    }
    if (!json_is_boolean(v))
        return jsonfile_error(f, err, where, "'%s' must be true or false", where);
    *out = json_is_true(v);
    return 0;
}

char *jsonfile_resolve(const char *base_file, const char *rel)
{
    const char *slash;
    size_t dirlen, rlen;
    char *out;

    if (rel[0] == '/' || (slash = strrchr(base_file, '/')) == NULL)
        return strdup(rel);
    dirlen = (size_t)(slash - base_file) + 1;
    rlen = strlen(rel);
    if ((out = malloc(dirlen + rlen + 1)) == NULL)
        return NULL;
    memcpy(out, base_file, dirlen);
    memcpy(out + dirlen, rel, rlen + 1);
    return out;
}

/*
 * item.c - the news item model and its JSON form (see item.h).
 *
 * The JSON form is both the wire payload from fetcher to matcher and the
 * line format of ITEMS.jsonl files for `newsalert match --items`, so the
 * reader is strict about types and keys: it is fed from outside.  It tells
 * running out of memory (ITEM_ENOMEM) from bad input (-1); for that,
 * jansson's allocations go through this module, which counts those that
 * fail (item_json_alloc_failures).
 */
#include "item.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "date.h"
#include "jsonfile.h"

struct item *item_new(void)
{
    struct item *it = calloc(1, sizeof(*it));

    if (it != NULL)
        it->published = ITEM_TIME_UNKNOWN;
    return it;
}

void item_free(struct item **pitem)
{
    struct item *it;
    size_t i;

    if (pitem == NULL || *pitem == NULL)
        return;
    it = *pitem;
    free(it->id);
    free(it->title);
    free(it->summary);
    free(it->content);
    free(it->link);
    free(it->feed);
    free(it->feed_title);
    free(it->author);
    for (i = 0; i < it->ncategories; i++)
        free(it->categories[i]);
    free(it->categories);
    free(it);
    *pitem = NULL;
}

int item_set(char **field, const char *value)
{
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int item_add_category(struct item *it, const char *category)
{
    char **grown;
    char *copy;

    if ((copy = strdup(category)) == NULL)
        return -1;
    grown = realloc(it->categories, (it->ncategories + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(copy);
        return -1;
    }
    it->categories = grown;
    it->categories[it->ncategories++] = copy;
    return 0;
}

/*
 * item_to_json() builds a jansson object and dumps it, on jansson's fast
 * paths (the fetcher serialises every item it hands off):
 *   - each string is checked as UTF-8 once, here (ASCII eight bytes at a
 *     time, the rest with utf8proc_iterate(), as text_utf8_next() does: no
 *     overlong form, no surrogate, nothing above U+10FFFF, the rules
 *     json_string() applies), and handed over with json_stringn_nocheck(),
 *     which skips jansson's own strlen and check;
 *   - the keys are our constants: json_object_set_new_nocheck();
 *   - json_dumpb() writes straight into one buffer sized from the fields'
 *     lengths (json_dumps() grows a buffer by doubling, then copies it);
 *     a field with many escapes makes a second dump into the exact size.
 * The keys come out in insertion order (jansson >= 2.8 dumps objects in
 * that order; no JSON_SORT_KEYS): id, title, summary, content, link, feed,
 * feed_title, author, categories, published.  The output is byte for byte
 * what the plain serialiser gave (tests/test_item_json.c compares them).
 * As with json_string(), a field that is not valid UTF-8 makes the whole
 * call fail (NULL), like running out of memory.  What is left is
 * json_dumpb() itself (jansson decodes every code point while it escapes):
 * about 7 ns a byte of output here, three quarters of the call.
 */

/* strlen(s) when s is valid UTF-8, else -1. */
static ptrdiff_t item_utf8_length(const char *s)
{
    size_t len = strlen(s), i = 0;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n;

    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            uint64_t w;

            while (len - i >= 8) {
                memcpy(&w, s + i, 8);
                if ((w & UINT64_C(0x8080808080808080)) != 0)
                    break;
                i += 8;
            }
            while (i < len && (unsigned char)s[i] < 0x80)
                i++;
            continue;
        }
        n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || cp < 0)
            return -1;
        i += (size_t)n;
    }
    return (ptrdiff_t)len;
}

/* A jansson string of value (checked here), or NULL when it is not valid
 * UTF-8 or out of memory; *bytes grows by its length. */
static json_t *item_json_string(const char *value, size_t *bytes)
{
    ptrdiff_t len = item_utf8_length(value);

    if (len < 0)
        return NULL;
    *bytes += (size_t)len;
    return json_stringn_nocheck(value, (size_t)len);
}

/* Add "key":value (key: one of our constants) when value is not NULL;
 * *bytes grows by what it adds to the compact text, escapes aside.
 * Returns 0 or -1 (invalid UTF-8, out of memory). */
static int item_json_put(json_t *obj, const char *key, const char *value, size_t *bytes)
{
    if (value == NULL)
        return 0;
    *bytes += strlen(key) + 6; /* "key":"",  */
    return json_object_set_new_nocheck(obj, key, item_json_string(value, bytes));
}

char *item_to_json(const struct item *it)
{
    char date[DATE_RFC3339_SIZE];
    json_t *obj, *cats;
    char *out = NULL, *shrunk;
    size_t i, bytes = 2, cap, n; /* 2: the braces */
    int rc = 0;

    if ((obj = json_object()) == NULL)
        return NULL;
    rc |= item_json_put(obj, "id", it->id, &bytes);
    rc |= item_json_put(obj, "title", it->title, &bytes);
    rc |= item_json_put(obj, "summary", it->summary, &bytes);
    rc |= item_json_put(obj, "content", it->content, &bytes);
    rc |= item_json_put(obj, "link", it->link, &bytes);
    rc |= item_json_put(obj, "feed", it->feed, &bytes);
    rc |= item_json_put(obj, "feed_title", it->feed_title, &bytes);
    rc |= item_json_put(obj, "author", it->author, &bytes);
    if (rc == 0 && it->ncategories > 0) {
        cats = json_array();
        rc |= json_object_set_new_nocheck(obj, "categories", cats);
        bytes += sizeof("\"categories\":[],") - 1;
        for (i = 0; rc == 0 && cats != NULL && i < it->ncategories; i++) {
            bytes += 3; /* "", */
            rc |= json_array_append_new(cats, item_json_string(it->categories[i], &bytes));
        }
    }
    if (rc == 0 && it->published != ITEM_TIME_UNKNOWN)
        rc |= item_json_put(obj, "published", date_format(it->published, date), &bytes);
    if (rc != 0)
        goto done;
    /* room for a few escapes; the NUL after the text */
    cap = bytes + bytes / 16 + 16;
    if ((out = malloc(cap)) == NULL)
        goto done;
    n = json_dumpb(obj, out, cap - 1, JSON_COMPACT);
    if (n >= cap) { /* escapes beyond the slack: dump again, exactly */
        cap = n + 1;
        if ((shrunk = realloc(out, cap)) == NULL) {
            n = 0;
        } else {
            out = shrunk;
            n = json_dumpb(obj, out, cap - 1, JSON_COMPACT);
        }
    }
    if (n == 0 || n >= cap) { /* out of memory while dumping */
        free(out);
        out = NULL;
        goto done;
    }
    out[n] = '\0';
    if (cap - n > 64 && (shrunk = realloc(out, n + 1)) != NULL)
        out = shrunk;
done:
    json_decref(obj);
    return out;
}

/* Which struct field a JSON string key fills. */
static char **item_field(struct item *it, const char *key)
{
    if (strcmp(key, "id") == 0)
        return &it->id;
    if (strcmp(key, "title") == 0)
        return &it->title;
    if (strcmp(key, "summary") == 0)
        return &it->summary;
    if (strcmp(key, "content") == 0)
        return &it->content;
    if (strcmp(key, "link") == 0)
        return &it->link;
    if (strcmp(key, "feed") == 0)
        return &it->feed;
    if (strcmp(key, "feed_title") == 0)
        return &it->feed_title;
    if (strcmp(key, "author") == 0)
        return &it->author;
    return NULL;
}

/* Report a problem with the value at `path` ("title", "categories[2]", ""
 * for the whole object; NULL: no position) as "line:col: message",
 * locating it in the raw text.  Returns -1. */
static int item_error(const char *buf, size_t len, json_t *root, na_error *err,
                      const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int item_error(const char *buf, size_t len, json_t *root, na_error *err,
                      const char *path, const char *fmt, ...)
{
    struct jsonfile view = {.path = (char *)"item", .text = (char *)buf, .len = len,
                            .root = root};
    char msg[768];
    int line = 0, col = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path != NULL)
        jsonfile_locate(&view, path, &line, &col);
    if (line > 0)
        return na_error_set(err, line, col, "%d:%d: %s", line, col, msg);
    return na_error_set(err, 0, 0, "%s", msg);
}

/* jansson's allocator, counting failures per thread (item.h). */
static _Thread_local unsigned long item_json_nomem;
static pthread_once_t item_json_alloc_once = PTHREAD_ONCE_INIT;

static void *item_json_malloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL)
        item_json_nomem++;
    return p;
}

static void item_json_free(void *p)
{
    free(p);
}

/* Memory jansson took before this runs was malloc'd too: item_json_free
 * releases it as jansson's default free would. */
static void item_json_alloc_install(void)
{
    json_set_alloc_funcs(item_json_malloc, item_json_free);
}

unsigned long item_json_alloc_failures(void)
{
    pthread_once(&item_json_alloc_once, item_json_alloc_install);
    return item_json_nomem;
}

/* Before main(), in every program this module is linked into: no thread
 * can be using jansson while its allocator is swapped. */
__attribute__((constructor)) static void item_json_alloc_init(void)
{
    pthread_once(&item_json_alloc_once, item_json_alloc_install);
}

/*
 * item_from_json() reads with jansson (json_loadb: no copy of the input to
 * terminate it; JSON_REJECT_DUPLICATES: a key given twice is an error) and
 * copies each string by the length jansson already knows (jansson refuses
 * invalid UTF-8 and \u0000, so the values have no NUL inside).
 */

/* A malloc'd copy of the jansson string v, or NULL when out of memory. */
static char *item_copy_string(const json_t *v)
{
    size_t n = json_string_length(v);
    char *copy = malloc(n + 1);

    if (copy != NULL) {
        memcpy(copy, json_string_value(v), n);
        copy[n] = '\0';
    }
    return copy;
}

int item_from_json(const char *buf, size_t len, struct item **out, na_error *err)
{
    json_error_t jerr;
    json_t *root, *value;
    struct item *it = NULL;
    const char *key;
    char **field, at[96];
    size_t i;
    unsigned long nomem = item_json_alloc_failures();

    *out = NULL;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson may report a failed allocation as bad JSON, or not at all */
    if (item_json_alloc_failures() != nomem ||
        (root == NULL && json_error_code(&jerr) == json_error_out_of_memory)) {
        json_decref(root);
        na_error_set(err, 0, 0, "out of memory");
        return ITEM_ENOMEM;
    }
    if (root == NULL)
        return na_error_set(err, jerr.line, jerr.column, "%d:%d: invalid JSON: %s",
                            jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        item_error(buf, len, root, err, "", "an item must be a JSON object");
        goto err;
    }
    if ((it = item_new()) == NULL)
        goto nomem;
    json_object_foreach(root, key, value) {
        if ((field = item_field(it, key)) != NULL) {
            if (json_is_null(value))
                continue;
            if (!json_is_string(value)) {
                item_error(buf, len, root, err, key, "item key '%s' must be a string", key);
                goto err;
            }
            free(*field); /* NULL: json_loadb refused duplicate keys */
            if ((*field = item_copy_string(value)) == NULL)
                goto nomem;
        } else if (strcmp(key, "categories") == 0) {
            if (!json_is_array(value)) {
                item_error(buf, len, root, err, key,
                           "item key 'categories' must be an array of strings");
                goto err;
            }
            for (i = 0; i < json_array_size(value); i++) {
                json_t *c = json_array_get(value, i);
                if (!json_is_string(c)) {
                    snprintf(at, sizeof(at), "categories[%zu]", i);
                    item_error(buf, len, root, err, at, "item %s must be a string", at);
                    goto err;
                }
                if (item_add_category(it, json_string_value(c)) != 0)
                    goto nomem;
            }
        } else if (strcmp(key, "published") == 0) {
            if (json_is_integer(value)) {
                it->published = json_integer_value(value);
            } else if (json_is_string(value)) {
                if (date_parse(json_string_value(value), &it->published) != 0) {
                    item_error(buf, len, root, err, key,
                               "item key 'published' is not a date: '%.64s'",
                               json_string_value(value));
                    goto err;
                }
            } else if (!json_is_null(value)) {
                item_error(buf, len, root, err, key,
                           "item key 'published' must be a date string or epoch seconds");
                goto err;
            }
        } else if (strcmp(key, "v") != 0) {
            /* a key with '.' or '[' cannot be located: the message still names it */
            item_error(buf, len, root, err, strpbrk(key, ".[") == NULL ? key : NULL,
                       "unknown item key '%.64s'", key);
            goto err;
        }
    }
    if (it->id == NULL || it->id[0] == '\0') {
        item_error(buf, len, root, err, it->id == NULL ? "" : "id", "item has no 'id'");
        goto err;
    }
    json_decref(root);
    *out = it;
    return 0;
nomem:
    na_error_set(err, 0, 0, "out of memory");
    item_free(&it);
    json_decref(root);
    return ITEM_ENOMEM;
err:
    item_free(&it);
    json_decref(root);
    return -1;
}

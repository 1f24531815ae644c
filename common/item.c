/*
 * item.c - the news item model and its JSON form (see item.h).
 *
 * The JSON form is both the wire payload from fetcher to matcher and the
 * line format of ITEMS.jsonl files for `newsalert match --items`, so the
 * reader is strict about types and keys: it is fed from outside.
 */
#include "item.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Add key: value when value is not NULL.  Returns 0 or -1. */
static int put_string(json_t *obj, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    return json_object_set_new(obj, key, json_string(value));
}

char *item_to_json(const struct item *it)
{
    char date[DATE_RFC3339_SIZE];
    json_t *obj, *cats;
    char *out = NULL;
    size_t i;
    int rc = 0;

    if ((obj = json_object()) == NULL)
        return NULL;
    rc |= put_string(obj, "id", it->id);
    rc |= put_string(obj, "title", it->title);
    rc |= put_string(obj, "summary", it->summary);
    rc |= put_string(obj, "content", it->content);
    rc |= put_string(obj, "link", it->link);
    rc |= put_string(obj, "feed", it->feed);
    rc |= put_string(obj, "feed_title", it->feed_title);
    rc |= put_string(obj, "author", it->author);
    if (it->ncategories > 0) {
        cats = json_array();
        rc |= json_object_set_new(obj, "categories", cats);
        for (i = 0; cats != NULL && i < it->ncategories; i++)
            rc |= json_array_append_new(cats, json_string(it->categories[i]));
    }
    if (it->published != ITEM_TIME_UNKNOWN)
        rc |= put_string(obj, "published", date_format(it->published, date));
    if (rc == 0)
        out = json_dumps(obj, JSON_COMPACT);
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

int item_from_json(const char *buf, size_t len, struct item **out, na_error *err)
{
    json_error_t jerr;
    json_t *root, *value;
    struct item *it = NULL;
    const char *key;
    char **field, at[96];
    size_t i;

    *out = NULL;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
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
            if (item_set(field, json_string_value(value)) != 0)
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
err:
    item_free(&it);
    json_decref(root);
    return -1;
}

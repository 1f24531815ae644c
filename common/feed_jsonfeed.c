/*
 * feed_jsonfeed.c - JSON Feed 1.0 / 1.1 documents, read with jansson.
 *
 * Tolerant by design: a field of the wrong type is skipped (and the
 * document flagged bozo), an item that is not an object is skipped, the
 * good items are kept.  Only JSON that is not a JSON Feed at all (no
 * jsonfeed.org version and no "items" array, or not an object) is an error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "feed_internal.h"
#include "html.h"

struct jctx {
    struct feed_doc *doc;
    int oom;
};

static void wrong_type(struct jctx *c, const char *where, const char *key)
{
    char reason[160];

    snprintf(reason, sizeof(reason), "%s: \"%s\" has the wrong type, ignored", where, key);
    if (feed_doc_set_bozo(c->doc, reason) < 0)
        c->oom = 1;
}

/* obj[key] when it is a string; absent/null silently, other types flagged. */
static const char *get_string(struct jctx *c, json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        wrong_type(c, where, key);
        return NULL;
    }
    return json_string_value(v);
}

static void set_text(struct jctx *c, char **field, const char *v)
{
    if (v == NULL || *field != NULL)
        return;
    *field = strdup(v);
    if (*field == NULL)
        c->oom = 1;
}

static void set_html(struct jctx *c, char **field, const char *v)
{
    if (v == NULL || *field != NULL)
        return;
    *field = html_sanitize(v, strlen(v));
    if (*field == NULL)
        c->oom = 1;
}

static void set_date(struct jctx *c, int64_t *field, json_t *obj, const char *key,
                     const char *where)
{
    const char *v = get_string(c, obj, key, where);
    int64_t t;

    if (v != NULL && date_parse(v, &t) == 0)
        *field = t;
}

/* "author" (1.0) or "authors" (1.1): the first name/url. */
static void set_author(struct jctx *c, char **field, json_t *obj, const char *where)
{
    json_t *a = json_object_get(obj, "authors");

    if (json_is_array(a) && json_array_size(a) > 0)
        a = json_array_get(a, 0);
    else if (a != NULL && !json_is_null(a) && !json_is_array(a))
        wrong_type(c, where, "authors");
    if (!json_is_object(a))
        a = json_object_get(obj, "author");
    if (a == NULL || json_is_null(a))
        return;
    if (!json_is_object(a)) {
        wrong_type(c, where, "author");
        return;
    }
    {
        const char *name = get_string(c, a, "name", where);
        const char *url = get_string(c, a, "url", where);

        if (*field == NULL)
            *field = name != NULL ? strdup(name) : url != NULL ? strdup(url) : NULL;
        if ((name != NULL || url != NULL) && *field == NULL)
            c->oom = 1;
    }
}

static void parse_item(struct jctx *c, json_t *it, size_t index)
{
    struct feed_entry *e;
    char where[48];
    json_t *v;
    const char *s;

    snprintf(where, sizeof(where), "items[%zu]", index);
    if (!json_is_object(it)) {
        wrong_type(c, where, "item");
        return;
    }
    switch (feed_doc_full(c->doc)) {
    case 0:
        break;
    case 1:
        return;
    default:
        c->oom = 1;
        return;
    }
    e = feed_doc_add_entry(c->doc);
    if (e == NULL) {
        c->oom = 1;
        return;
    }
    v = json_object_get(it, "id");
    if (json_is_string(v)) {
        set_text(c, &e->id, json_string_value(v));
    } else if (json_is_integer(v)) {
        char num[32];

        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        set_text(c, &e->id, num);
    } else if (v != NULL && !json_is_null(v)) {
        wrong_type(c, where, "id");
    }
    set_text(c, &e->title, get_string(c, it, "title", where));
    s = get_string(c, it, "url", where);
    if (s == NULL)
        s = get_string(c, it, "external_url", where);
    if (s != NULL) {
        set_text(c, &e->link, s);
        if (feed_add_link(e, s, "alternate", NULL) < 0)
            c->oom = 1;
    }
    set_html(c, &e->content, get_string(c, it, "content_html", where));
    set_text(c, &e->content, get_string(c, it, "content_text", where));
    set_text(c, &e->summary, get_string(c, it, "summary", where));
    if (e->summary == NULL && e->content != NULL)
        set_text(c, &e->summary, e->content);
    set_date(c, &e->published, it, "date_published", where);
    set_date(c, &e->updated, it, "date_modified", where);
    set_author(c, &e->author, it, where);
    v = json_object_get(it, "tags");
    if (json_is_array(v)) {
        size_t i;
        json_t *t;

        json_array_foreach(v, i, t) {
            if (json_is_string(t)) {
                if (feed_add_string(&e->categories, &e->ncategories, json_string_value(t)) < 0)
                    c->oom = 1;
            } else {
                wrong_type(c, where, "tags[]");
            }
        }
    } else if (v != NULL && !json_is_null(v)) {
        wrong_type(c, where, "tags");
    }
    v = json_object_get(it, "attachments");
    if (json_is_array(v)) {
        size_t i;
        json_t *a;

        json_array_foreach(v, i, a) {
            const char *url, *type;
            json_t *size;
            char len[32] = "";

            if (!json_is_object(a)) {
                wrong_type(c, where, "attachments[]");
                continue;
            }
            url = get_string(c, a, "url", where);
            type = get_string(c, a, "mime_type", where);
            size = json_object_get(a, "size_in_bytes");
            if (json_is_integer(size))
                snprintf(len, sizeof(len), "%lld", (long long)json_integer_value(size));
            else if (size != NULL && !json_is_null(size))
                wrong_type(c, where, "size_in_bytes");
            if (url == NULL)
                continue;
            if (feed_add_enclosure(e, url, type, len[0] != '\0' ? len : NULL) < 0 ||
                feed_add_link(e, url, "enclosure", type) < 0)
                c->oom = 1;
        }
    } else if (v != NULL && !json_is_null(v)) {
        wrong_type(c, where, "attachments");
    }
}

int feed_jsonfeed_parse(const char *buf, size_t len, struct feed_doc *doc, na_error *err)
{
    json_error_t jerr;
    json_t *root, *items;
    struct jctx c = {doc, 0};
    const char *version;
    int rc = -1;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return na_error_set(err, jerr.line, jerr.column, "not a feed: invalid JSON: %s",
                            jerr.text);
    if (!json_is_object(root)) {
        na_error_set(err, 1, 1, "not a feed: JSON that is not an object");
        goto done;
    }
    version = json_string_value(json_object_get(root, "version"));
    items = json_object_get(root, "items");
    if (version != NULL && strncmp(version, "https://jsonfeed.org/version/", 29) != 0)
        version = NULL; /* not a JSON Feed version: only the items can tell */
    if (version == NULL && !json_is_array(items)) {
        na_error_set(err, 0, 0, "not a feed: JSON without a jsonfeed.org version or items");
        goto done;
    }
    if (version == NULL) {
        doc->version = strdup("");
        if (json_is_string(json_object_get(root, "version"))) {
            if (feed_doc_set_bozo(doc, "feed: \"version\" is not a jsonfeed.org version") < 0)
                c.oom = 1;
        } else {
            wrong_type(&c, "feed", "version");
        }
    } else if (strcmp(version + 29, "1") == 0) {
        doc->version = strdup("json1");
    } else if (strcmp(version + 29, "1.1") == 0) {
        doc->version = strdup("json11");
    } else {
        doc->version = strdup("json");
    }
    if (doc->version == NULL)
        goto oom;
    set_text(&c, &doc->title, get_string(&c, root, "title", "feed"));
    set_text(&c, &doc->link, get_string(&c, root, "home_page_url", "feed"));
    set_text(&c, &doc->subtitle, get_string(&c, root, "description", "feed"));
    set_text(&c, &doc->language, get_string(&c, root, "language", "feed"));
    set_author(&c, &doc->author, root, "feed");
    if (json_is_array(items)) {
        size_t i;
        json_t *it;

        json_array_foreach(items, i, it) {
            parse_item(&c, it, i);
            if (c.oom)
                break;
        }
    } else if (items != NULL) {
        wrong_type(&c, "feed", "items");
    }
    if (c.oom)
        goto oom;
    rc = 0;
    goto done;
oom:
    na_error_set(err, 0, 0, "out of memory");
done:
    json_decref(root);
    return rc;
}

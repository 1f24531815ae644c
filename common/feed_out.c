/*
 * feed_out.c - a parsed feed document written out: as the conformance
 * contract's JSON (`newsalert parse`), and as plain-text items for the
 * matcher (the fetcher).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "feed_internal.h"
#include "html.h"

uint64_t feed_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* obj[key] = s when s is not NULL.  Returns 0 or -1. */
static int put_str(json_t *obj, const char *key, const char *s)
{
    if (s == NULL)
        return 0;
    return json_object_set_new(obj, key, json_string(s));
}

static int put_date(json_t *obj, const char *key, int64_t t)
{
    char buf[DATE_RFC3339_SIZE];

    if (t == ITEM_TIME_UNKNOWN)
        return 0;
    return json_object_set_new(obj, key, json_string(date_format(t, buf)));
}

static json_t *strings(char **arr, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(arr[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *entry_json(const struct feed_entry *e)
{
    json_t *o = json_object(), *links, *encl;
    int bad = o == NULL;

    if (bad)
        return NULL;
    bad |= put_str(o, "id", e->id) | put_str(o, "title", e->title) |
           put_str(o, "link", e->link) | put_str(o, "summary", e->summary) |
           put_str(o, "content", e->content) | put_str(o, "author", e->author) |
           put_date(o, "published", e->published) | put_date(o, "updated", e->updated);
    if (e->ncategories > 0)
        bad |= json_object_set_new(o, "categories", strings(e->categories, e->ncategories));
    links = json_array();
    for (size_t i = 0; links != NULL && i < e->nlinks; i++) {
        json_t *l = json_object();

        if (l == NULL)
            bad = 1;
        else
            bad |= put_str(l, "href", e->links[i].href) | put_str(l, "rel", e->links[i].rel) |
                   put_str(l, "type", e->links[i].type) | json_array_append_new(links, l);
    }
    bad |= json_object_set_new(o, "links", links);
    encl = json_array();
    for (size_t i = 0; encl != NULL && i < e->nenclosures; i++) {
        json_t *x = json_object();

        if (x == NULL)
            bad = 1;
        else
            bad |= put_str(x, "href", e->enclosures[i].href) |
                   put_str(x, "type", e->enclosures[i].type) |
                   put_str(x, "length", e->enclosures[i].length) | json_array_append_new(encl, x);
    }
    bad |= json_object_set_new(o, "enclosures", encl);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *feed_doc_to_json(const struct feed_doc *doc)
{
    json_t *root = json_object(), *feed = json_object(), *entries = json_array();
    char *out = NULL;
    int bad = root == NULL || feed == NULL || entries == NULL;

    if (!bad) {
        bad |= put_str(root, "version", doc->version != NULL ? doc->version : "");
        bad |= json_object_set_new(root, "bozo", json_boolean(doc->bozo));
        bad |= put_str(root, "bozo_exception", doc->bozo_reason);
        bad |= put_str(root, "encoding", doc->encoding != NULL ? doc->encoding : "");
        bad |= put_str(feed, "title", doc->title) | put_str(feed, "link", doc->link) |
               put_str(feed, "subtitle", doc->subtitle) | put_str(feed, "id", doc->id) |
               put_str(feed, "author", doc->author) | put_str(feed, "language", doc->language) |
               put_str(feed, "rights", doc->rights) | put_str(feed, "generator", doc->generator) |
               put_date(feed, "updated", doc->updated) |
               put_date(feed, "published", doc->published);
        if (doc->ncategories > 0)
            bad |= json_object_set_new(feed, "categories",
                                       strings(doc->categories, doc->ncategories));
        for (size_t i = 0; !bad && i < doc->nentries; i++)
            bad |= json_array_append_new(entries, entry_json(&doc->entries[i]));
    }
    if (!bad) {
        json_object_set(root, "feed", feed);
        json_object_set(root, "entries", entries);
        out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    }
    json_decref(feed);
    json_decref(entries);
    json_decref(root);
    return out;
}

/* Plain text of a (possibly marked-up) field, or NULL. */
static int set_plain(char **field, const char *markup)
{
    if (markup == NULL)
        return 0;
    *field = html_to_text(markup, strlen(markup));
    return *field == NULL ? -1 : 0;
}

static struct item *entry_item(const struct feed_entry *e, const char *feed_title,
                               const char *feed_url)
{
    struct item *it = item_new();
    char date[DATE_RFC3339_SIZE] = "";

    if (it == NULL)
        return NULL;
    it->published = e->published != ITEM_TIME_UNKNOWN ? e->published : e->updated;
    if (set_plain(&it->title, e->title) < 0 || set_plain(&it->summary, e->summary) < 0)
        goto err;
    /* the parsers copy the content into a missing summary: convert once */
    if (e->content != NULL && e->summary != NULL && it->summary != NULL &&
        strcmp(e->content, e->summary) == 0) {
        if (item_set(&it->content, it->summary) < 0)
            goto err;
    } else if (set_plain(&it->content, e->content) < 0) {
        goto err;
    }
    if (set_plain(&it->author, e->author) < 0 ||
        item_set(&it->feed_title, feed_title) < 0 || item_set(&it->link, e->link) < 0 ||
        item_set(&it->feed, feed_url) < 0)
        goto err;
    for (size_t i = 0; i < e->ncategories; i++) {
        char *t = html_to_text(e->categories[i], strlen(e->categories[i]));

        if (t == NULL)
            goto err;
        if (*t != '\0' && item_add_category(it, t) < 0) {
            free(t);
            goto err;
        }
        free(t);
    }
    if (e->id != NULL && *e->id != '\0') {
        if (item_set(&it->id, e->id) < 0)
            goto err;
    } else if (e->link != NULL && *e->link != '\0') {
        if (item_set(&it->id, e->link) < 0)
            goto err;
    } else {
        /* FNV-1a 64 over "title|published|summary" (plain text) */
        uint64_t h = FEED_FNV1A64_INIT;
        char id[32];

        if (it->published != ITEM_TIME_UNKNOWN)
            date_format(it->published, date);
        if (it->title != NULL)
            h = feed_fnv1a64(h, it->title, strlen(it->title));
        h = feed_fnv1a64(h, "|", 1);
        h = feed_fnv1a64(h, date, strlen(date));
        h = feed_fnv1a64(h, "|", 1);
        if (it->summary != NULL)
            h = feed_fnv1a64(h, it->summary, strlen(it->summary));
        snprintf(id, sizeof(id), "fnv1a64:%016llx", (unsigned long long)h);
        if (item_set(&it->id, id) < 0)
            goto err;
    }
    return it;
err:
    item_free(&it);
    return NULL;
}

int feed_doc_to_items(const struct feed_doc *doc, const char *feed_url, struct item ***items,
                      size_t *nitems)
{
    struct item **arr = NULL;
    char *title = NULL; /* the feed's title as text, converted once */

    *items = NULL;
    *nitems = 0;
    if (doc->nentries == 0)
        return 0;
    arr = calloc(doc->nentries, sizeof(*arr));
    if (arr == NULL || set_plain(&title, doc->title) < 0) {
        free(arr);
        return -1;
    }
    for (size_t i = 0; i < doc->nentries; i++) {
        arr[i] = entry_item(&doc->entries[i], title, feed_url);
        if (arr[i] == NULL) {
            for (size_t k = 0; k < i; k++)
                item_free(&arr[k]);
            free(arr);
            free(title);
            return -1;
        }
    }
    free(title);
    *items = arr;
    *nitems = doc->nentries;
    return 0;
}

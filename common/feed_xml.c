/*
 * feed_xml.c - RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and CDF documents, read with
 * libxml2.
 *
 * feed.c hands over UTF-8 text.  libxml2 parses it with XML_PARSE_NONET and
 * XML_PARSE_RECOVER, and without XML_PARSE_NOENT, XML_PARSE_DTDLOAD,
 * XML_PARSE_DTDATTR or XML_PARSE_HUGE: no file or network access, no
 * external entity, its entity-amplification checks on.  Internal entities
 * stay references in the tree; when we read text we expand them ourselves
 * under a hard budget, so a "billion laughs" document costs at most
 * EXPAND_BUDGET bytes and nodes.  A document libxml2 had to recover is
 * `bozo`.
 *
 * Elements are recognised by namespace and local name (RSS names without a
 * namespace, or in the RSS 0.90/1.0 namespaces), only among the direct
 * children of the channel/feed and item/entry elements; the first
 * occurrence of a field wins.
 */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "feed_internal.h"
#include "html.h"

#define EXPAND_BUDGET (1024u * 1024u) /* bytes + nodes of entity expansion */

struct xctx {
    struct feed_doc *doc;
    xmlDoc *xdoc;
    int atom;        /* an Atom document: elements without a namespace are Atom */
    int atom10;      /* Atom 1.0: an xhtml construct's wrapping div is dropped */
    const char *atom_ns; /* the namespace of an Atom document's root */
    size_t expanded; /* entity expansion spent */
    int oom;
};

enum ns {
    NS_NONE, /* no namespace, or RSS 0.90 / 1.0 / userland */
    NS_ATOM,
    NS_DC,
    NS_DCTERMS,
    NS_CONTENT,
    NS_ITUNES,
    NS_XHTML,
    NS_RDF,
    NS_ADMIN,
    NS_MEDIA,
    NS_OTHER
};

static enum ns ns_of(const struct xctx *c, const xmlNode *n)
{
    const char *u;

    if (n->ns == NULL || n->ns->href == NULL)
        return c->atom ? NS_ATOM : NS_NONE;
    u = (const char *)n->ns->href;
    if (c->atom_ns != NULL && strcmp(u, c->atom_ns) == 0)
        return NS_ATOM;
    if (strncmp(u, "http://www.w3.org/2005/Atom", 27) == 0 ||
        strncmp(u, "http://purl.org/atom/ns#", 24) == 0 ||
        strncmp(u, "http://example.com/newformat#", 29) == 0)
        return NS_ATOM;
    if (strncmp(u, "http://purl.org/dc/elements/", 28) == 0)
        return NS_DC;
    if (strcmp(u, "http://purl.org/dc/terms/") == 0)
        return NS_DCTERMS;
    if (strcmp(u, "http://purl.org/rss/1.0/modules/content/") == 0)
        return NS_CONTENT;
    if (strcasecmp(u, "http://www.itunes.com/dtds/podcast-1.0.dtd") == 0 ||
        strcmp(u, "http://example.com/DTDs/PodCast-1.0.dtd") == 0)
        return NS_ITUNES;
    if (strcmp(u, "http://www.w3.org/1999/xhtml") == 0)
        return NS_XHTML;
    if (strcmp(u, "http://www.w3.org/1999/02/22-rdf-syntax-ns#") == 0)
        return NS_RDF;
    if (strcmp(u, "http://webns.net/mvcb/") == 0)
        return NS_ADMIN;
    if (strcmp(u, "http://search.yahoo.com/mrss/") == 0 ||
        strcmp(u, "http://search.yahoo.com/mrss") == 0)
        return NS_MEDIA;
    if (strcmp(u, "http://purl.org/rss/1.0/") == 0 ||
        strcmp(u, "http://my.netscape.com/rdf/simple/0.9/") == 0 ||
        strncmp(u, "http://backend.userland.com/rss", 31) == 0 ||
        strcmp(u, "http://blogs.law.harvard.edu/tech/rss") == 0)
        return NS_NONE;
    return NS_OTHER;
}

static int is(const struct xctx *c, const xmlNode *n, enum ns ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, name) == 0 &&
           ns_of(c, n) == ns;
}

/* An attribute's value (any namespace, name case-insensitive), or NULL. */
static char *attr(const xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a != NULL; a = a->next)
        if (strcasecmp((const char *)a->name, name) == 0)
            return (char *)xmlNodeGetContent((xmlNode *)a);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Text */

static void note_oom(struct xctx *c, struct strbuf *b)
{
    if (b->oom)
        c->oom = 1;
}

static void text_walk(struct xctx *c, const xmlNode *n, struct strbuf *b, int depth)
{
    for (; n != NULL; n = n->next) {
        if (c->expanded > EXPAND_BUDGET)
            return;
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (n->content != NULL) {
                size_t l = strlen((const char *)n->content);

                if (depth > 0 && (c->expanded += l) > EXPAND_BUDGET)
                    return;
                strbuf_add(b, (const char *)n->content, l);
            }
            break;
        case XML_ENTITY_REF_NODE: {
            xmlEntity *ent = xmlGetDocEntity(c->xdoc, n->name);

            c->expanded++;
            if (ent != NULL && ent->etype == XML_INTERNAL_GENERAL_ENTITY && depth < 16) {
                if (ent->children != NULL)
                    text_walk(c, ent->children, b, depth + 1);
                else if (ent->content != NULL && strchr((const char *)ent->content, '&') == NULL)
                    strbuf_adds(b, (const char *)ent->content);
            }
            else if (ent != NULL && ent->etype != XML_INTERNAL_GENERAL_ENTITY &&
                     ent->etype != XML_INTERNAL_PREDEFINED_ENTITY)
                /* never fetched or read: say so, the feed may be hostile */
                feed_doc_set_bozo(c->doc, "external entity not loaded");
            if (c->expanded > EXPAND_BUDGET)
                feed_doc_set_bozo(c->doc, "entity expansion over budget");
            break;
        }
        case XML_ELEMENT_NODE:
            if (depth < 200)
                text_walk(c, n->children, b, depth);
            break;
        default:
            break;
        }
    }
}

static char *trim_take(char *s)
{
    size_t a = 0, l;

    if (s == NULL)
        return NULL;
    while (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')
        a++;
    l = strlen(s + a);
    while (l > 0 && (s[a + l - 1] == ' ' || s[a + l - 1] == '\t' || s[a + l - 1] == '\n' ||
                     s[a + l - 1] == '\r'))
        l--;
    memmove(s, s + a, l);
    s[l] = '\0';
    return s;
}

/* When n's only child is one text or CDATA node (most elements of most
 * feeds), set *p, *len to its content, trimmed, and return 1; else 0.
 * Saves text_of() and value_of() the copy through a growing buffer. */
static int single_text(const xmlNode *n, const char **p, size_t *len)
{
    const xmlNode *k = n->children;
    const char *t;
    size_t l;

    if (k == NULL || k->next != NULL || k->content == NULL ||
        (k->type != XML_TEXT_NODE && k->type != XML_CDATA_SECTION_NODE))
        return 0;
    t = (const char *)k->content;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
        t++;
    l = strlen(t);
    while (l > 0 && (t[l - 1] == ' ' || t[l - 1] == '\t' || t[l - 1] == '\n' || t[l - 1] == '\r'))
        l--;
    *p = t;
    *len = l;
    return 1;
}

/* The text of element n, trimmed (the caller frees), or NULL (out of memory). */
static char *text_of(struct xctx *c, const xmlNode *n)
{
    struct strbuf b = {0};
    const char *t;
    size_t l;

    if (single_text(n, &t, &l)) {
        char *out = strndup(t, l);

        if (out == NULL)
            c->oom = 1;
        return out;
    }

    text_walk(c, n->children, &b, 0);
    note_oom(c, &b);
    return trim_take(strbuf_take(&b));
}

/* The children of n serialised as XML. */
static char *inner_xml(struct xctx *c, const xmlNode *n)
{
    xmlBuffer *xb = xmlBufferCreate();
    struct strbuf b = {0};

    if (xb == NULL) {
        c->oom = 1;
        return NULL;
    }
    for (xmlNode *k = n->children; k != NULL; k = k->next)
        xmlNodeDump(xb, c->xdoc, k, 0, 0);
    strbuf_add(&b, (const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    xmlBufferFree(xb);
    note_oom(c, &b);
    return trim_take(strbuf_take(&b));
}

enum mode { M_TEXT, M_HTML, M_XHTML };

static int has_element_child(const xmlNode *n)
{
    for (const xmlNode *k = n->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            return 1;
    return 0;
}

/* Decode base64 text (whitespace ignored); NULL when it is not base64. */
static char *base64_decode(const char *in)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct strbuf b = {0};
    unsigned acc = 0;
    int bits = 0;

    for (const char *p = in; *p != '\0'; p++) {
        const char *k;

        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (*p == '=')
            break;
        k = strchr(alphabet, *p);
        if (k == NULL) {
            strbuf_release(&b);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)(k - alphabet);
        bits += 6;
        if (bits >= 8) {
            char ch = (char)((acc >> (bits - 8)) & 0xFF);

            bits -= 8;
            strbuf_add(&b, &ch, 1);
        }
    }
    if (b.len > 0 && memchr(b.p, '\0', b.len) != NULL) {
        strbuf_release(&b);
        return NULL;
    }
    return strbuf_take(&b);
}

/* The base URL in effect at n (xml:base, document URL), or NULL. */
static char *base_of(struct xctx *c, const xmlNode *n)
{
    xmlChar *base = xmlNodeGetBase(c->xdoc, n);
    char *out = NULL;

    if (base != NULL && *base != '\0') {
        out = strdup((const char *)base);
        if (out == NULL)
            c->oom = 1;
    }
    xmlFree(base);
    return out;
}

/* The value of a text construct: plain text, sanitised HTML, or sanitised
 * serialised XHTML, following its type/mode attributes (def when none). */
static char *value_of(struct xctx *c, const xmlNode *n, enum mode def)
{
    char *type = attr(n, "type"), *mode = attr(n, "mode");
    enum mode m = def;
    int base64 = 0, said_html;
    char *raw, *out, *base;

    if (type != NULL) {
        if (strcasecmp(type, "text") == 0 || strcasecmp(type, "text/plain") == 0)
            m = M_TEXT;
        else if (strcasecmp(type, "html") == 0 || strcasecmp(type, "text/html") == 0)
            m = M_HTML;
        else if (strcasecmp(type, "xhtml") == 0 || strstr(type, "xhtml") != NULL ||
                 strstr(type, "xml") != NULL)
            m = M_XHTML;
        else if (strchr(type, '/') != NULL && strncasecmp(type, "text/", 5) != 0 && c->atom10) {
            m = M_HTML; /* Atom 1.0: any other media type is base64 */
            base64 = 1;
        }
    }
    if (mode != NULL) {
        if (strcasecmp(mode, "escaped") == 0 && (m == M_XHTML || type == NULL))
            m = M_HTML;
        else if (strcasecmp(mode, "xml") == 0)
            m = M_XHTML;
        else if (strcasecmp(mode, "base64") == 0)
            base64 = 1;
    }
    said_html = type != NULL && m == M_HTML;
    xmlFree(type);
    xmlFree(mode);
    if (has_element_child(n))
        m = M_XHTML;
    else if (m == M_XHTML)
        m = M_HTML;
    if (m == M_TEXT && !base64)
        return text_of(c, n);
    if (m == M_XHTML) {
        const xmlNode *div = NULL;
        int elements = 0;

        for (const xmlNode *k = n->children; k != NULL; k = k->next)
            if (k->type == XML_ELEMENT_NODE) {
                elements++;
                div = k;
            }
        if (c->atom10 && elements == 1 && strcmp((const char *)div->name, "div") == 0 &&
            ns_of(c, div) == NS_XHTML)
            /* type="html" around an XHTML div of escaped markup (TypePad
             * does this): the div's text is the HTML */
            raw = said_html && !has_element_child(div) ? text_of(c, div) : inner_xml(c, div);
        else
            raw = inner_xml(c, n);
    } else {
        const char *t;
        size_t l;

        if (m == M_HTML && !base64 && single_text(n, &t, &l)) {
            /* sanitise straight from the node: no copy of the raw text */
            base = base_of(c, n);
            out = html_sanitize_base(t, l, base);
            free(base);
            if (out == NULL)
                c->oom = 1;
            return trim_take(out);
        }
        raw = text_of(c, n);
        if (raw != NULL && base64) {
            char *dec = base64_decode(raw);

            if (dec != NULL) {
                free(raw);
                raw = dec;
            }
        }
        if (m == M_TEXT)
            return raw;
    }
    if (raw == NULL)
        return NULL;
    base = base_of(c, n);
    out = html_sanitize_base(raw, strlen(raw), base);
    free(base);
    free(raw);
    if (out == NULL)
        c->oom = 1;
    return trim_take(out);
}

/* Set *field (when still NULL) to the value of n. */
static void set_value(struct xctx *c, char **field, const xmlNode *n, enum mode def)
{
    char *v;

    if (*field != NULL)
        return;
    v = value_of(c, n, def);
    if (v == NULL)
        c->oom = 1;
    *field = v;
}

static void set_date(struct xctx *c, int64_t *field, const xmlNode *n)
{
    char *v;
    int64_t t;

    v = text_of(c, n); /* the last valid date wins, as in feedparser */
    if (v != NULL && date_parse(v, &t) == 0)
        *field = t;
    free(v);
}

static void add_category(struct xctx *c, char ***arr, size_t *n, const char *term)
{
    if (term == NULL || *term == '\0')
        return;
    if (feed_add_string(arr, n, term) < 0)
        c->oom = 1;
}

/* Comma-separated keywords add categories up to this many (the check for
 * duplicates is quadratic: a hostile list of 100,000 must not cost 10^10). */
#define MAX_KEYWORDS 256

/* itunes:keywords (and RSS's made-up <tags>): comma-separated terms, each
 * kept once. */
static void add_keywords(struct xctx *c, char ***arr, size_t *n, const xmlNode *k)
{
    char *t = text_of(c, k), *save = NULL;

    if (t == NULL)
        return;
    for (char *w = strtok_r(t, ",", &save); w != NULL && *n < MAX_KEYWORDS;
         w = strtok_r(NULL, ",", &save)) {
        int seen = 0;

        trim_take(w);
        for (size_t i = 0; i < *n; i++)
            if (strcmp((*arr)[i], w) == 0)
                seen = 1;
        if (!seen)
            add_category(c, arr, n, w);
    }
    free(t);
}

/* itunes:category text="..." and its nested itunes:category elements. */
static void add_itunes_categories(struct xctx *c, char ***arr, size_t *n, const xmlNode *k)
{
    for (const xmlNode *x = k; x != NULL;) {
        char *t = attr(x, "text");
        const xmlNode *next = NULL;

        add_category(c, arr, n, t);
        xmlFree(t);
        for (const xmlNode *y = x->children; y != NULL; y = y->next)
            if (is(c, y, NS_ITUNES, "category")) {
                next = y;
                break;
            }
        x = next;
    }
}

/* An href resolved against the element's xml:base and the document URL. */
static char *resolve(struct xctx *c, const xmlNode *n, const char *href)
{
    xmlChar *base, *uri = NULL;
    char *out;

    if (href == NULL)
        return NULL;
    base = xmlNodeGetBase(c->xdoc, n);
    if (base != NULL && *base != '\0')
        uri = xmlBuildURI((const xmlChar *)href, base);
    out = strdup(uri != NULL ? (const char *)uri : href);
    xmlFree(uri);
    xmlFree(base);
    if (out == NULL)
        c->oom = 1;
    return trim_take(out);
}

/* Atom author / contributor: "name (email)". */
static char *person(struct xctx *c, const xmlNode *n)
{
    char *name = NULL, *email = NULL, *out;

    for (const xmlNode *k = n->children; k != NULL; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (strcasecmp((const char *)k->name, "name") == 0 && name == NULL)
            name = text_of(c, k);
        else if (strcasecmp((const char *)k->name, "email") == 0 && email == NULL)
            email = text_of(c, k);
    }
    out = feed_author_string(name, email);
    if (out == NULL && !has_element_child(n))
        out = text_of(c, n); /* <author>text</author> in Atom 0.3 feeds */
    free(name);
    free(email);
    return out;
}

static void set_author(struct xctx *c, char **field, const xmlNode *n, int atom_person)
{
    if (*field != NULL)
        return;
    *field = atom_person ? person(c, n) : text_of(c, n);
    if (*field != NULL && **field == '\0') {
        free(*field);
        *field = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The channel / feed element */

static void parse_feed_child(struct xctx *c, const xmlNode *k)
{
    struct feed_doc *d = c->doc;
    enum ns ns = ns_of(c, k);
    const char *name = (const char *)k->name;

    if (k->type != XML_ELEMENT_NODE)
        return;
    if ((ns == NS_NONE || ns == NS_ATOM || ns == NS_DC) && strcasecmp(name, "title") == 0) {
        set_value(c, &d->title, k, M_TEXT);
    } else if (ns == NS_NONE && strcasecmp(name, "link") == 0 && d->link == NULL) {
        char *t = text_of(c, k);

        d->link = resolve(c, k, t);
        free(t);
    } else if (ns == NS_ATOM && strcmp(name, "link") == 0 && d->link == NULL) {
        char *rel = attr(k, "rel"), *href = attr(k, "href");

        if (href != NULL && (rel == NULL || strcmp(rel, "alternate") == 0))
            d->link = resolve(c, k, href);
        xmlFree(rel);
        xmlFree(href);
    } else if ((ns == NS_NONE && strcasecmp(name, "description") == 0) ||
               (ns == NS_NONE && strcasecmp(name, "abstract") == 0)) {
        set_value(c, &d->subtitle, k, M_HTML);
    } else if ((ns == NS_ATOM && (strcmp(name, "subtitle") == 0 || strcmp(name, "tagline") == 0)) ||
               (ns == NS_DC && strcmp(name, "description") == 0) ||
               (ns == NS_ITUNES && strcmp(name, "subtitle") == 0)) {
        set_value(c, &d->subtitle, k, M_TEXT);
    } else if (ns == NS_ATOM && strcmp(name, "id") == 0) {
        set_value(c, &d->id, k, M_TEXT);
    } else if (ns == NS_ATOM && strcmp(name, "author") == 0) {
        set_author(c, &d->author, k, 1);
    } else if ((ns == NS_NONE && (strcmp(name, "managingEditor") == 0 || strcmp(name, "author") == 0)) ||
               (ns == NS_DC && (strcmp(name, "creator") == 0 || strcmp(name, "author") == 0)) ||
               (ns == NS_ITUNES && strcmp(name, "author") == 0)) {
        set_author(c, &d->author, k, 0);
    } else if (ns == NS_NONE && strcmp(name, "ttl") == 0) {
        char *t = text_of(c, k), *end = NULL;
        long v = t != NULL ? strtol(t, &end, 10) : 0;

        if (t != NULL && end != t && *end == '\0' && v > 0 && v <= 366L * 24 * 60)
            d->ttl = (int)v; /* minutes; anything else is ignored */
        free(t);
    } else if ((ns == NS_NONE || ns == NS_DC) && strcmp(name, "language") == 0) {
        set_value(c, &d->language, k, M_TEXT);
    } else if ((ns == NS_NONE && strcmp(name, "copyright") == 0) ||
               (ns == NS_ATOM && (strcmp(name, "rights") == 0 || strcmp(name, "copyright") == 0)) ||
               ((ns == NS_DC || ns == NS_DCTERMS) && strcmp(name, "rights") == 0)) {
        set_value(c, &d->rights, k, M_TEXT);
    } else if ((ns == NS_NONE || ns == NS_ATOM) && strcmp(name, "generator") == 0) {
        set_value(c, &d->generator, k, M_TEXT);
    } else if (ns == NS_ADMIN && strcmp(name, "generatorAgent") == 0 && d->generator == NULL) {
        d->generator = attr(k, "resource");
    } else if ((ns == NS_NONE && strcmp(name, "lastBuildDate") == 0) ||
               (ns == NS_ATOM && (strcmp(name, "updated") == 0 || strcmp(name, "modified") == 0)) ||
               (ns == NS_DC && strcmp(name, "date") == 0) ||
               (ns == NS_DCTERMS && strcmp(name, "modified") == 0)) {
        set_date(c, &d->updated, k);
    } else if ((ns == NS_NONE && strcmp(name, "pubDate") == 0) ||
               (ns == NS_ATOM && (strcmp(name, "published") == 0 || strcmp(name, "issued") == 0)) ||
               (ns == NS_DCTERMS && strcmp(name, "issued") == 0)) {
        set_date(c, &d->published, k);
    } else if ((ns == NS_NONE && strcmp(name, "category") == 0) ||
               (ns == NS_DC && strcmp(name, "subject") == 0)) {
        char *t = text_of(c, k);

        add_category(c, &d->categories, &d->ncategories, t);
        free(t);
    } else if (ns == NS_ATOM && strcmp(name, "category") == 0) {
        char *t = attr(k, "term");

        add_category(c, &d->categories, &d->ncategories, t);
        xmlFree(t);
    } else if (ns == NS_ITUNES && strcmp(name, "category") == 0) {
        add_itunes_categories(c, &d->categories, &d->ncategories, k);
    } else if (ns == NS_ITUNES && strcmp(name, "keywords") == 0) {
        add_keywords(c, &d->categories, &d->ncategories, k);
    }
}

/* ------------------------------------------------------------------------ */
/* Items and entries */

static void parse_entry(struct xctx *c, const xmlNode *item, int cdf)
{
    struct feed_entry *e;
    int guid_is_link = 0, has_link = 0, full = feed_doc_full(c->doc);
    char *guid = NULL, *media_title = NULL;

    if (full != 0) {
        c->oom = full < 0;
        return;
    }
    e = feed_doc_add_entry(c->doc);
    if (e == NULL) {
        c->oom = 1;
        return;
    }
    if (cdf) {
        char *href = attr(item, "href"), *lastmod = attr(item, "lastmod");
        int64_t t;

        if (href != NULL) {
            e->link = resolve(c, item, href);
            has_link = 1;
            if (feed_add_link(e, e->link, "alternate", NULL) < 0)
                c->oom = 1;
        }
        if (lastmod != NULL && date_parse(lastmod, &t) == 0)
            e->updated = t;
        xmlFree(href);
        xmlFree(lastmod);
    }
    for (const xmlNode *k = item->children; k != NULL && !c->oom; k = k->next) {
        enum ns ns;
        const char *name;

        if (k->type != XML_ELEMENT_NODE)
            continue;
        ns = ns_of(c, k);
        name = (const char *)k->name;
        if ((ns == NS_NONE || ns == NS_ATOM || ns == NS_DC) && strcasecmp(name, "title") == 0) {
            set_value(c, &e->title, k, M_TEXT);
        } else if (ns == NS_NONE && strcmp(name, "guid") == 0) {
            char *perm = attr(k, "isPermaLink");

            if (e->id == NULL) {
                e->id = text_of(c, k);
                guid_is_link = perm == NULL || strcasecmp(perm, "true") == 0;
                free(guid);
                guid = e->id != NULL ? strdup(e->id) : NULL;
            }
            xmlFree(perm);
        } else if (ns == NS_ATOM && strcmp(name, "id") == 0) {
            set_value(c, &e->id, k, M_TEXT);
        } else if (ns == NS_NONE && strcmp(name, "link") == 0) {
            char *t = text_of(c, k), *href = resolve(c, k, t);

            if (href != NULL && *href != '\0') {
                if (feed_add_link(e, href, "alternate", "text/html") < 0)
                    c->oom = 1;
                if (e->link == NULL)
                    e->link = href, href = NULL;
                has_link = 1;
            }
            free(href);
            free(t);
        } else if (ns == NS_ATOM && strcmp(name, "link") == 0) {
            char *rel = attr(k, "rel"), *href = attr(k, "href"), *type = attr(k, "type");
            /* no href: the link written as the element's text, as some feeds do */
            char *text = href == NULL ? text_of(c, k) : NULL;
            char *len = attr(k, "length");
            char *abs = resolve(c, k, href != NULL                    ? href
                                      : text != NULL && *text != '\0' ? text
                                                                      : NULL);

            free(text);
            if (abs != NULL) {
                const char *r = rel != NULL ? rel : "alternate";

                if (feed_add_link(e, abs, r, type) < 0)
                    c->oom = 1;
                if (strcmp(r, "enclosure") == 0 && feed_add_enclosure(e, abs, type, len) < 0)
                    c->oom = 1;
                if (strcmp(r, "alternate") == 0 && e->link == NULL)
                    e->link = abs, abs = NULL;
                has_link = 1;
            }
            free(abs);
            xmlFree(rel);
            xmlFree(href);
            xmlFree(type);
            xmlFree(len);
        } else if (ns == NS_NONE && strcmp(name, "enclosure") == 0) {
            char *url = attr(k, "url"), *type = attr(k, "type"), *len = attr(k, "length");
            char *abs = resolve(c, k, url);

            if (abs != NULL && (feed_add_enclosure(e, abs, type, len) < 0 ||
                                feed_add_link(e, abs, "enclosure", type) < 0))
                c->oom = 1;
            free(abs);
            xmlFree(url);
            xmlFree(type);
            xmlFree(len);
        } else if ((ns == NS_NONE && (strcasecmp(name, "description") == 0 ||
                                      strcasecmp(name, "abstract") == 0 ||
                                      strcmp(name, "summary") == 0))) {
            /* description and summary both: the second is the content */
            set_value(c, e->summary == NULL ? &e->summary : &e->content, k, M_HTML);
        } else if ((ns == NS_ATOM && strcmp(name, "summary") == 0) ||
                   (ns == NS_DC && strcmp(name, "description") == 0) ||
                   (ns == NS_ITUNES && strcmp(name, "summary") == 0)) {
            set_value(c, &e->summary, k, M_TEXT);
        } else if ((ns == NS_CONTENT && strcmp(name, "encoded") == 0) ||
                   (ns == NS_NONE && strcmp(name, "fullitem") == 0)) {
            set_value(c, &e->content, k, M_HTML);
        } else if (ns == NS_ATOM && strcmp(name, "content") == 0) {
            set_value(c, &e->content, k, M_TEXT);
        } else if (ns == NS_XHTML && strcmp(name, "body") == 0 && e->content == NULL) {
            char *raw = inner_xml(c, k);

            e->content = raw != NULL ? html_sanitize(raw, strlen(raw)) : NULL;
            free(raw);
        } else if (ns == NS_ATOM && strcmp(name, "author") == 0) {
            set_author(c, &e->author, k, 1);
        } else if ((ns == NS_NONE && strcmp(name, "author") == 0) ||
                   (ns == NS_DC && (strcmp(name, "creator") == 0 || strcmp(name, "author") == 0)) ||
                   (ns == NS_ITUNES && strcmp(name, "author") == 0)) {
            set_author(c, &e->author, k, 0);
        } else if ((ns == NS_NONE && strcmp(name, "pubDate") == 0) ||
                   (ns == NS_ATOM && (strcmp(name, "published") == 0 || strcmp(name, "issued") == 0)) ||
                   (ns == NS_DCTERMS && strcmp(name, "issued") == 0)) {
            set_date(c, &e->published, k);
        } else if ((ns == NS_ATOM && (strcmp(name, "updated") == 0 || strcmp(name, "modified") == 0)) ||
                   (ns == NS_DC && strcmp(name, "date") == 0) ||
                   (ns == NS_DCTERMS && strcmp(name, "modified") == 0)) {
            set_date(c, &e->updated, k);
        } else if ((ns == NS_NONE && strcmp(name, "category") == 0) ||
                   (ns == NS_DC && strcmp(name, "subject") == 0)) {
            char *t = text_of(c, k);

            add_category(c, &e->categories, &e->ncategories, t);
            free(t);
        } else if (ns == NS_ATOM && strcmp(name, "category") == 0) {
            char *t = attr(k, "term");

            add_category(c, &e->categories, &e->ncategories, t);
            xmlFree(t);
        } else if (ns == NS_ITUNES && strcmp(name, "category") == 0) {
            add_itunes_categories(c, &e->categories, &e->ncategories, k);
        } else if ((ns == NS_ITUNES && strcmp(name, "keywords") == 0) ||
                   (ns == NS_NONE && strcmp(name, "tags") == 0)) { /* "a, b": made-up but seen */
            add_keywords(c, &e->categories, &e->ncategories, k);
        } else if (ns == NS_MEDIA && strcmp(name, "category") == 0) {
            char *t = text_of(c, k);

            add_category(c, &e->categories, &e->ncategories, t);
            free(t);
        } else if (ns == NS_MEDIA && strcmp(name, "title") == 0 && media_title == NULL) {
            media_title = text_of(c, k);
        }
    }
    if (e->title == NULL) {
        e->title = media_title;
        media_title = NULL;
    }
    free(media_title);
    if (e->id == NULL && c->doc->version != NULL && strncmp(c->doc->version, "rss", 3) == 0) {
        char *about = NULL;

        for (xmlAttr *a = item->properties; a != NULL; a = a->next)
            if (strcmp((const char *)a->name, "about") == 0 && a->ns != NULL)
                about = (char *)xmlNodeGetContent((xmlNode *)a);
        if (about != NULL) {
            e->id = strdup(about);
            xmlFree(about);
            if (e->id == NULL)
                c->oom = 1;
        }
    }
    if (!has_link && guid_is_link && guid != NULL && *guid != '\0') {
        e->link = guid;
        guid = NULL;
    }
    free(guid);
    if (e->summary == NULL && e->content != NULL) {
        e->summary = strdup(e->content);
        if (e->summary == NULL)
            c->oom = 1;
    }
}

/* ------------------------------------------------------------------------ */

static const char *rss_version(const xmlDoc *xdoc, const xmlNode *root)
{
    char *v = attr(root, "version");
    const char *out = "rss";

    if (v == NULL)
        return out;
    if (strcmp(v, "0.91") == 0) {
        out = "rss091u";
        if (xdoc->intSubset != NULL && xdoc->intSubset->ExternalID != NULL &&
            strstr((const char *)xdoc->intSubset->ExternalID, "Netscape") != NULL)
            out = "rss091n";
    } else if (strcmp(v, "0.92") == 0) {
        out = "rss092";
    } else if (strcmp(v, "0.93") == 0) {
        out = "rss093";
    } else if (strcmp(v, "0.94") == 0) {
        out = "rss094";
    } else if (strncmp(v, "2.", 2) == 0) {
        out = "rss20";
    }
    xmlFree(v);
    return out;
}

static const char *atom_version(const xmlNode *root)
{
    char *v = attr(root, "version");
    const char *out = "atom";

    if (root->ns != NULL && strcmp((const char *)root->ns->href, "http://www.w3.org/2005/Atom") == 0)
        out = "atom10";
    else if (v != NULL && strcmp(v, "0.3") == 0)
        out = "atom03";
    else if (v != NULL && strcmp(v, "0.2") == 0)
        out = "atom02";
    else if (v != NULL && strcmp(v, "0.1") == 0)
        out = "atom01";
    xmlFree(v);
    return out;
}

static void walk_feed(struct xctx *c, const xmlNode *root, const char *kind)
{
    const xmlNode *channel = NULL;

    if (strcmp(kind, "atom") == 0) {
        for (const xmlNode *k = root->children; k != NULL && !c->oom; k = k->next) {
            if (is(c, k, NS_ATOM, "entry"))
                parse_entry(c, k, 0);
            else
                parse_feed_child(c, k);
        }
        return;
    }
    if (strcmp(kind, "cdf") == 0) {
        char *href = attr(root, "href"), *lastmod = attr(root, "lastmod");
        int64_t t;

        if (href != NULL)
            c->doc->link = resolve(c, root, href);
        if (lastmod != NULL && date_parse(lastmod, &t) == 0)
            c->doc->updated = t;
        xmlFree(href);
        xmlFree(lastmod);
        for (const xmlNode *k = root->children; k != NULL && !c->oom; k = k->next) {
            if (k->type == XML_ELEMENT_NODE && strcasecmp((const char *)k->name, "item") == 0)
                parse_entry(c, k, 1);
            else
                parse_feed_child(c, k);
        }
        return;
    }
    /* RSS and RDF: a channel element, items inside it or beside it */
    for (const xmlNode *k = root->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "channel") == 0) {
            channel = k;
            break;
        }
    if (channel != NULL) {
        for (const xmlNode *k = channel->children; k != NULL && !c->oom; k = k->next) {
            if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "item") == 0)
                parse_entry(c, k, 0);
            else
                parse_feed_child(c, k);
        }
    }
    for (const xmlNode *k = root->children; k != NULL && !c->oom; k = k->next)
        if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "item") == 0)
            parse_entry(c, k, 0);
}

int feed_xml_parse(const char *utf8, size_t len, const char *base_url, struct feed_doc *doc,
                   na_error *err)
{
    xmlParserCtxt *ctxt;
    xmlNode *root;
    struct xctx c = {0};
    const char *kind, *version, *rname;
    char *lang;
    int rc = -1;

    if (len > INT_MAX)
        return na_error_set(err, 0, 0, "document too large (%zu bytes)", len);
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    /* NONET: no network; RECOVER: keep what can be kept.  Deliberately not
     * NOENT (entity substitution), DTDLOAD, DTDATTR, DTDVALID or HUGE. */
    c.xdoc = xmlCtxtReadMemory(ctxt, utf8, (int)len, base_url, "UTF-8",
                               XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR |
                                   XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC);
    c.doc = doc;
    if (!ctxt->wellFormed || !ctxt->nsWellFormed || c.xdoc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char reason[256];

        if (e != NULL && e->message != NULL)
            snprintf(reason, sizeof(reason), "line %d: %s", e->line, e->message);
        else
            snprintf(reason, sizeof(reason), "not well-formed XML");
        trim_take(reason);
        if (feed_doc_set_bozo(doc, reason) < 0)
            goto oom;
    }
    root = c.xdoc != NULL ? xmlDocGetRootElement(c.xdoc) : NULL;
    if (root == NULL) {
        /* nothing but a prolog and comments: an empty, ill-formed feed */
        if (feed_doc_set_bozo(doc, "no root element") < 0 || (doc->version = strdup("")) == NULL)
            goto oom;
        rc = 0;
        goto done;
    }
    rname = (const char *)root->name;
    if (strcasecmp(rname, "rss") == 0) {
        kind = "rss";
        version = rss_version(c.xdoc, root);
    } else if (strcmp(rname, "RDF") == 0) {
        const xmlNode *ch = NULL;

        kind = "rss";
        for (const xmlNode *k = root->children; k != NULL; k = k->next)
            if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "channel") == 0) {
                ch = k;
                break;
            }
        version = "rss10";
        if (ch != NULL && ch->ns != NULL &&
            strcmp((const char *)ch->ns->href, "http://my.netscape.com/rdf/simple/0.9/") == 0)
            version = "rss090";
        for (const xmlNs *d = root->nsDef; d != NULL; d = d->next)
            if (d->prefix == NULL && d->href != NULL &&
                strcmp((const char *)d->href, "http://my.netscape.com/rdf/simple/0.9/") == 0)
                version = "rss090";
    } else if (strcmp(rname, "feed") == 0) {
        kind = "atom";
        c.atom = 1;
        version = atom_version(root);
        c.atom10 = strcmp(version, "atom10") == 0;
        if (root->ns != NULL)
            c.atom_ns = (const char *)root->ns->href;
    } else if (strcasecmp(rname, "channel") == 0) {
        kind = "cdf";
        version = "cdf";
    } else if (strcasecmp(rname, "html") == 0) {
        na_error_set(err, 0, 0, "not a feed: an HTML page");
        goto done;
    } else {
        na_error_set(err, root->line, 0, "not a feed: unknown root element <%.64s>", rname);
        goto done;
    }
    doc->version = strdup(version);
    if (doc->version == NULL)
        goto oom;
    walk_feed(&c, root, kind);
    if (c.oom)
        goto oom;
    if (doc->language == NULL) {
        lang = (char *)xmlNodeGetLang(root);
        if (lang != NULL && *lang != '\0' && (doc->language = strdup(lang)) == NULL) {
            xmlFree(lang);
            goto oom;
        }
        for (char *p = doc->language; p != NULL && *p != '\0'; p++)
            if (*p == '_')
                *p = '-';
        xmlFree(lang);
    }
    rc = 0;
    goto done;
oom:
    na_error_set(err, 0, 0, "out of memory");
    rc = -1;
done:
    if (c.xdoc != NULL)
        xmlFreeDoc(c.xdoc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

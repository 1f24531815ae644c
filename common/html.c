/*
 * html.c - HTML to plain text, and markup sanitising (see html.h).
 *
 * html_to_text() lets libxml2's HTML parser build a tree (recovering from
 * anything) and walks it.  html_sanitize() cannot re-serialise a tree,
 * because the contract wants the markup as the feed wrote it (an escaped
 * "&#x26;" must stay "&#x26;"); it scans tags and copies everything it does
 * not have to remove byte for byte.
 */
#include "html.h"

#include <ctype.h>
#include <iconv.h>
#include <libxml/HTMLparser.h>
#include <libxml/uri.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "strbuf.h"

char *html_fold_space(char *s)
{
    char *r = s, *w = s;
    int space = 0;

    for (; *r != '\0'; r++) {
        unsigned char c = (unsigned char)*r;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = 1;
            continue;
        }
        if (c == 0xC2 && (unsigned char)r[1] == 0xA0) { /* U+00A0 no-break space */
            space = 1;
            r++;
            continue;
        }
        if (space && w != s)
            *w++ = ' ';
        space = 0;
        *w++ = (char)c;
    }
    *w = '\0';
    return s;
}

static int name_in(const char *name, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcasecmp(name, *list) == 0)
            return 1;
    return 0;
}

static const char *const block_elements[] = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul", "img",
    NULL};

static const char *const dropped_elements[] = {
    "script", "style", "head", "title", "noscript", "template", "iframe", "object", "embed",
    "applet", NULL};

static void text_walk(struct strbuf *b, xmlNode *n, int depth)
{
    for (; n != NULL; n = n->next) {
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (n->content != NULL)
                strbuf_adds(b, (const char *)n->content);
            break;
        case XML_ELEMENT_NODE: {
            const char *name = (const char *)n->name;
            int block = name_in(name, block_elements);

            if (name_in(name, dropped_elements))
                break;
            if (block)
                strbuf_add(b, " ", 1);
            if (depth < 256) /* libxml2 caps nesting too; stay well inside the stack */
                text_walk(b, n->children, depth + 1);
            if (block)
                strbuf_add(b, " ", 1);
            break;
        }
        default:
            break;
        }
    }
}

char *html_to_text(const char *html, size_t len)
{
    struct strbuf b = {0};
    htmlDocPtr doc;

    if (html == NULL)
        len = 0;
    if (len > 0 && memchr(html, '<', len) == NULL && memchr(html, '&', len) == NULL) {
        strbuf_add(&b, html, strnlen(html, len));
    } else if (len > 0 && len <= INT32_MAX) {
        doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET | HTML_PARSE_NODEFDTD);
        if (doc != NULL) {
            text_walk(&b, doc->children, 0);
            xmlFreeDoc(doc);
        }
    }
    char *s = strbuf_take(&b);
    return s != NULL ? html_fold_space(s) : NULL;
}

/* ------------------------------------------------------------------------ */
/* The sanitiser */

/* Elements removed together with everything up to their end tag. */
static const char *const removed_with_content[] = {
    "script", "style", "iframe", "object", "embed", "applet", "frameset", "noscript",
    "template", "noembed", "noframes", "xmp", NULL};

/* Elements whose tags are removed (their content, if any, stays). */
static const char *const removed_tags[] = {
    "frame", "meta", "link", "base", "form", "input", "button", "textarea", "select",
    "option", "html", "head", "body", "svg", "math", NULL};

/* Attributes that hold a URL. */
static const char *const url_attributes[] = {
    "href", "src", "action", "formaction", "background", "lowsrc", "dynsrc", "poster",
    "cite", "longdesc", "usemap", "data", "xlink:href", "codebase", "srcset", NULL};

static int is_name_char(unsigned char c)
{
    return c != '\0' && !isspace(c) && c != '>' && c != '/' && c != '=' && c != '<' &&
           c != '"' && c != '\'';
}

/* Is value (n bytes) a URL we must not keep? */
static int bad_url(const char *v, size_t n)
{
    char scheme[16];
    size_t k = 0;

    for (size_t i = 0; i < n && k < sizeof(scheme) - 1; i++) {
        unsigned char c = (unsigned char)v[i];

        if (c <= ' ' || c == 0x7F)
            continue; /* browsers ignore these inside a scheme */
        if (c == '&')
            return 1; /* an encoded scheme: refuse rather than decode */
        if (c == ':')
            break;
        if (c == '/' || c == '?' || c == '#')
            return 0;
        scheme[k++] = (char)tolower(c);
    }
    scheme[k] = '\0';
    return strncmp(scheme, "javascript", 10) == 0 || strncmp(scheme, "vbscript", 8) == 0 ||
           strncmp(scheme, "data", 4) == 0 || strncmp(scheme, "livescript", 10) == 0;
}

static int is_url_attribute(const char *name, size_t n)
{
    char aname[32];

    if (n >= sizeof(aname))
        return 0;
    memcpy(aname, name, n);
    aname[n] = '\0';
    return name_in(aname, url_attributes);
}

/* Find the end of a "</name ...>" for an element removed with its content;
 * returns the index after it, or len. */
static size_t skip_element(const char *s, size_t len, size_t i, const char *name, size_t nlen)
{
    while (i < len) {
        const char *lt = memchr(s + i, '<', len - i);

        if (lt == NULL)
            return len;
        i = (size_t)(lt - s);
        if (i + 2 + nlen <= len && s[i + 1] == '/' && strncasecmp(s + i + 2, name, nlen) == 0 &&
            (i + 2 + nlen == len || !is_name_char((unsigned char)s[i + 2 + nlen]))) {
            const char *gt = memchr(s + i, '>', len - i);
            return gt == NULL ? len : (size_t)(gt - s) + 1;
        }
        i++;
    }
    return len;
}

/* Copy the tag starting at s[i] == '<' (followed by a letter).  Returns the
 * index after the tag. */
static size_t sanitize_tag(struct strbuf *b, const char *s, size_t len, size_t i,
                           const char *base)
{
    char name[64];
    size_t nlen = 0, j = i + 1, close = 0;
    int self_closing = 0, keep;

    if (s[j] == '/') {
        close = 1;
        j++;
    }
    while (j < len && is_name_char((unsigned char)s[j])) {
        if (nlen < sizeof(name) - 1)
            name[nlen++] = s[j];
        j++;
    }
    name[nlen] = '\0';
    keep = !name_in(name, removed_tags) && !name_in(name, removed_with_content);
    if (keep) {
        strbuf_add(b, close ? "</" : "<", close ? 2 : 1);
        strbuf_add(b, s + i + 1 + close, j - i - 1 - close);
    }
    /* attributes */
    for (;;) {
        size_t an, as, vs = 0, ve = 0;
        int has_value = 0;
        char quote = 0;

        while (j < len && (isspace((unsigned char)s[j]) || s[j] == '/')) {
            if (s[j] == '/')
                self_closing = 1;
            j++;
        }
        if (j >= len)
            break;
        if (s[j] == '>') {
            j++;
            break;
        }
        if (s[j] == '<')
            break; /* an unclosed tag: the next one starts here */
        self_closing = 0;
        as = j;
        while (j < len && is_name_char((unsigned char)s[j]))
            j++;
        if (j == as) /* a stray quote or '=' */
            j++;
        an = j - as;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        if (j < len && s[j] == '=') {
            j++;
            while (j < len && isspace((unsigned char)s[j]))
                j++;
            has_value = 1;
            if (j < len && (s[j] == '"' || s[j] == '\'')) {
                const char *end;

                quote = s[j];
                vs = j + 1;
                end = memchr(s + vs, quote, len - vs);
                ve = end == NULL ? len : (size_t)(end - s);
                j = end == NULL ? len : ve + 1;
            } else {
                vs = j;
                while (j < len && !isspace((unsigned char)s[j]) && s[j] != '>')
                    j++;
                ve = j;
            }
        }
        if (!keep || close || an == 0 || !is_name_char((unsigned char)s[as]))
            continue;
        {
            char aname[32];
            size_t k = an < sizeof(aname) - 1 ? an : sizeof(aname) - 1;

            memcpy(aname, s + as, k);
            aname[k] = '\0';
            if (strncasecmp(aname, "on", 2) == 0 || strcasecmp(aname, "style") == 0 ||
                strcasecmp(aname, "formaction") == 0)
                continue;
            if (has_value && name_in(aname, url_attributes) && bad_url(s + vs, ve - vs))
                continue;
            if (has_value && strcasecmp(aname, "xmlns") == 0 && ve - vs == 28 &&
                memcmp(s + vs, "http://www.w3.org/1999/xhtml", 28) == 0)
                continue; /* the XHTML namespace of inline content goes without saying */
        }
        strbuf_add(b, " ", 1);
        strbuf_add(b, s + as, an);
        if (has_value) {
            char *abs = NULL;
            const char *v = s + vs;
            size_t vl = ve - vs;

            if (base != NULL && is_url_attribute(s + as, an)) {
                char *rel = strndup(v, vl);
                xmlChar *u = rel != NULL ? xmlBuildURI((const xmlChar *)rel,
                                                       (const xmlChar *)base)
                                         : NULL;

                free(rel);
                if (u != NULL) {
                    abs = strdup((const char *)u);
                    xmlFree(u);
                }
                if (abs != NULL) {
                    v = abs;
                    vl = strlen(abs);
                }
            }
            strbuf_add(b, "=\"", 2);
            for (size_t k = 0; k < vl; k++) {
                if (v[k] == '"')
                    strbuf_add(b, "&quot;", 6);
                else if (v[k] == '<')
                    strbuf_add(b, "&lt;", 4);
                else if (v[k] == '>')
                    strbuf_add(b, "&gt;", 4);
                else
                    strbuf_add(b, v + k, 1);
            }
            strbuf_add(b, "\"", 1);
            free(abs);
        }
    }
    if (keep) {
        if (self_closing)
            strbuf_add(b, " /", 2);
        strbuf_add(b, ">", 1);
    } else if (!close && !self_closing && name_in(name, removed_with_content)) {
        j = skip_element(s, len, j, name, nlen);
    }
    return j;
}

/* Copy the reference starting at html[i] == '&'; a bare '&' becomes
 * "&amp;", "&#X" becomes "&#x", and a numeric reference to 128..159 (a
 * Windows-1252 character written as its byte) the character it means.
 * Returns the index after what was consumed. */
static size_t sanitize_amp(struct strbuf *b, const char *s, size_t len, size_t i)
{
    size_t j = i + 1, k;

    if (j < len && s[j] == '#') {
        int hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
        unsigned long v = 0;

        k = j + 1 + (size_t)hex;
        while (k < len && k - j < 10 &&
               (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
            v = v * (hex ? 16 : 10) +
                (unsigned long)(isdigit((unsigned char)s[k]) ? s[k] - '0'
                                                             : tolower((unsigned char)s[k]) - 'a' + 10);
            k++;
        }
        if (k > j + 1 + (size_t)hex && k < len && s[k] == ';') {
            char num[24];

            if (v >= 0x80 && v <= 0x9F) {
                iconv_t cd = iconv_open("UCS-4BE", "WINDOWS-1252");
                char in[1] = {(char)v}, out[4];
                char *ip = in, *op = out;
                size_t il = 1, ol = 4;

                if (cd != (iconv_t)-1) {
                    if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && ol == 0)
                        v = ((unsigned long)(unsigned char)out[2] << 8) | (unsigned char)out[3];
                    iconv_close(cd);
                }
                snprintf(num, sizeof(num), "&#x%lx;", v);
                strbuf_adds(b, num);
            } else if (hex) {
                strbuf_add(b, "&#x", 3);
                strbuf_add(b, s + j + 2, k + 1 - (j + 2));
            } else {
                strbuf_add(b, s + i, k + 1 - i);
            }
            return k + 1;
        }
    } else if (j < len && isalpha((unsigned char)s[j])) {
        k = j;
        while (k < len && k - j < 32 && isalnum((unsigned char)s[k]))
            k++;
        if (k < len && s[k] == ';') {
            strbuf_add(b, s + i, k + 1 - i);
            return k + 1;
        }
    }
    strbuf_add(b, "&amp;", 5);
    return j;
}

char *html_sanitize(const char *html, size_t len)
{
    return html_sanitize_base(html, len, NULL);
}

char *html_sanitize_base(const char *html, size_t len, const char *base)
{
    struct strbuf b = {0};
    size_t i = 0;

    if (html == NULL)
        len = 0;
    if (base != NULL && *base == '\0')
        base = NULL;
    while (i < len) {
        size_t k = i, rest;

        while (k < len && html[k] != '<' && html[k] != '&')
            k++;
        strbuf_add(&b, html + i, k - i);
        i = k;
        if (i >= len)
            break;
        if (html[i] == '&') {
            i = sanitize_amp(&b, html, len, i);
            continue;
        }
        rest = len - i;
        if (rest >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            const char *end = NULL;

            for (k = i + 4; k + 3 <= len; k++)
                if (memcmp(html + k, "-->", 3) == 0) {
                    end = html + k;
                    break;
                }
            i = end == NULL ? len : (size_t)(end - html) + 3;
        } else if (rest >= 3 && (html[i + 1] == '!' || html[i + 1] == '?') &&
                   isalpha((unsigned char)html[i + 2])) {
            const char *gt = memchr(html + i, '>', rest);

            if (gt == NULL) { /* not a declaration after all: text */
                strbuf_add(&b, html + i, rest);
                i = len;
            } else {
                i = (size_t)(gt - html) + 1;
            }
        } else if (rest >= 2 && (isalpha((unsigned char)html[i + 1]) ||
                                 (rest >= 3 && html[i + 1] == '/' &&
                                  isalpha((unsigned char)html[i + 2])))) {
            i = sanitize_tag(&b, html, len, i, base);
        } else {
            strbuf_add(&b, "&lt;", 4); /* a lone '<' is text */
            i++;
        }
    }
    return strbuf_take(&b);
}

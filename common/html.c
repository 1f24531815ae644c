/*
 * html.c - HTML to plain text, and markup sanitising (see html.h).
 *
 * html_to_text() scans the markup once, as a browser's tokenizer would (a
 * lone '<' is text, quoted attribute values may hold '>', raw-text elements
 * run to their end tag), and decodes references with libxml2's HTML entity
 * table.  It used to let libxml2's HTML parser build a tree and walk it,
 * but that cost twice the parse of the whole feed (tests/bench/bench_parse)
 * for a result that only keeps the text.  html_sanitize() cannot
 * re-serialise a tree either, because the contract wants the markup as the
 * feed wrote it (an escaped "&#x26;" must stay "&#x26;"); it scans tags and
 * copies everything it does not have to remove byte for byte.  Both look
 * tag and attribute names up in one table (html_names).
 */
#include "html.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/uri.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "bytescan.h"
#include "strbuf.h"

/* Byte classes for html_fold_space: 0 kept as is, 1 ASCII whitespace, 2
 * the lead byte of U+00A0 (0xC2), 3 the terminating NUL. */
static const unsigned char fold_class[256] = {
    [0] = 3,   ['\t'] = 1, ['\n'] = 1, ['\v'] = 1,
    ['\f'] = 1, ['\r'] = 1, [' '] = 1,  [0xC2] = 2};

char *html_fold_space(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = r;
    int space = 0;

    for (;;) {
        unsigned char *run = r;

        /* a run of bytes kept as they are: all but whitespace, with the
         * single spaces between them (a 0xC2 not before 0xA0 is one too) */
        for (;;) {
            while (fold_class[*r] == 0)
                r++;
            if (*r == ' ' && r != run && fold_class[r[1]] == 0)
                r += 2;
            else if (fold_class[*r] == 2 && r[1] != 0xA0)
                r++;
            else
                break;
        }
        if (r != run) {
            if (space && w != (unsigned char *)s)
                *w++ = ' ';
            space = 0;
            if (w != run)
                memmove(w, run, (size_t)(r - run));
            w += r - run; /* nothing folded yet: w == run, no copy */
        }
        if (*r == '\0')
            break;
        space = 1; /* whitespace, or U+00A0 no-break space (2 bytes) */
        r += fold_class[*r] == 2 ? 2 : 1;
    }
    *w = '\0';
    return s;
}

/* What the text extractor and the sanitiser know about a tag or attribute
 * name: one table, lower case, in strcmp order for a binary search (every
 * tag and attribute of every feed is looked up here). */
enum {
    /* html_to_text(): */
    HN_BLOCK = 1,  /* separates words: a space stands for each of its tags */
    HN_RAW = 2,    /* not text: dropped up to its end tag, or to the end of
                    * the input when that never comes (as browsers read it) */
    HN_HIDDEN = 4, /* not shown: dropped up to its end tag when there is one,
                    * else only the tag goes */
    /* html_sanitize(): */
    HN_REMOVE_ALL = 8,  /* removed with everything up to its end tag */
    HN_REMOVE_TAG = 16, /* its tags removed, its content kept */
    HN_URL = 32,        /* an attribute that holds a URL */
    HN_DROP_ATTR = 64,  /* an attribute always removed */
};

static const struct html_name {
    const char *name;
    unsigned flags;
} html_names[] = {
    {"action", HN_URL},
    {"address", HN_BLOCK},
    {"applet", HN_HIDDEN | HN_REMOVE_ALL},
    {"article", HN_BLOCK},
    {"aside", HN_BLOCK},
    {"background", HN_URL},
    {"base", HN_REMOVE_TAG},
    {"blockquote", HN_BLOCK},
    {"body", HN_REMOVE_TAG},
    {"br", HN_BLOCK},
    {"button", HN_REMOVE_TAG},
    {"caption", HN_BLOCK},
    {"cite", HN_URL},
    {"codebase", HN_URL},
    {"data", HN_URL},
    {"dd", HN_BLOCK},
    {"div", HN_BLOCK},
    {"dl", HN_BLOCK},
    {"dt", HN_BLOCK},
    {"dynsrc", HN_URL},
    {"embed", HN_REMOVE_ALL},
    {"figcaption", HN_BLOCK},
    {"figure", HN_BLOCK},
    {"footer", HN_BLOCK},
    {"form", HN_REMOVE_TAG},
    {"formaction", HN_URL | HN_DROP_ATTR},
    {"frame", HN_REMOVE_TAG},
    {"frameset", HN_REMOVE_ALL},
    {"h1", HN_BLOCK},
    {"h2", HN_BLOCK},
    {"h3", HN_BLOCK},
    {"h4", HN_BLOCK},
    {"h5", HN_BLOCK},
    {"h6", HN_BLOCK},
    {"head", HN_HIDDEN | HN_REMOVE_TAG},
    {"header", HN_BLOCK},
    {"hr", HN_BLOCK},
    {"href", HN_URL},
    {"html", HN_REMOVE_TAG},
    {"iframe", HN_HIDDEN | HN_REMOVE_ALL},
    {"img", HN_BLOCK},
    {"input", HN_REMOVE_TAG},
    {"li", HN_BLOCK},
    {"link", HN_REMOVE_TAG},
    {"longdesc", HN_URL},
    {"lowsrc", HN_URL},
    {"main", HN_BLOCK},
    {"math", HN_REMOVE_TAG},
    {"meta", HN_REMOVE_TAG},
    {"nav", HN_BLOCK},
    {"noembed", HN_RAW | HN_REMOVE_ALL},
    {"noframes", HN_RAW | HN_REMOVE_ALL},
    {"noscript", HN_HIDDEN | HN_REMOVE_ALL},
    {"object", HN_HIDDEN | HN_REMOVE_ALL},
    {"ol", HN_BLOCK},
    {"option", HN_REMOVE_TAG},
    {"p", HN_BLOCK},
    {"poster", HN_URL},
    {"pre", HN_BLOCK},
    {"script", HN_RAW | HN_REMOVE_ALL},
    {"section", HN_BLOCK},
    {"select", HN_REMOVE_TAG},
    {"src", HN_URL},
    {"srcset", HN_URL},
    {"style", HN_RAW | HN_REMOVE_ALL | HN_DROP_ATTR},
    {"svg", HN_REMOVE_TAG},
    {"table", HN_BLOCK},
    {"td", HN_BLOCK},
    {"template", HN_RAW | HN_REMOVE_ALL},
    {"textarea", HN_RAW | HN_REMOVE_TAG},
    {"th", HN_BLOCK},
    {"title", HN_HIDDEN},
    {"tr", HN_BLOCK},
    {"ul", HN_BLOCK},
    {"usemap", HN_URL},
    {"xlink:href", HN_URL},
    {"xmp", HN_RAW | HN_REMOVE_ALL},
};

/* The HN_ flags of name (n bytes, any case); 0 for a name we do not know. */
static unsigned name_flags(const char *name, size_t n)
{
    char low[16];
    size_t lo = 0, hi = sizeof(html_names) / sizeof(html_names[0]);

    if (n == 0 || n >= sizeof(low))
        return 0; /* longer than any name we know */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];

        low[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
    }
    low[n] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, k = 0;
        const char *t = html_names[mid].name;
        int c;

        while (k < n && low[k] == t[k]) /* strcmp, inline: short names */
            k++;
        c = k == n ? -(t[k] != '\0') : (unsigned char)low[k] - (unsigned char)t[k];

        if (c == 0)
            return html_names[mid].flags;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* Windows-1252's meaning of 0x80..0x9F (0: none), for numeric references
 * that name the byte instead of the character, as many feeds do. */
static const unsigned short cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

unsigned html_cp1252(unsigned char c)
{
    return c >= 0x80 && c <= 0x9F ? cp1252_c1[c - 0x80] : 0;
}

static int is_name_char(unsigned char c);
static size_t skip_element(const char *s, size_t len, size_t i, const char *name, size_t nlen);
static size_t find_end_tag(const char *s, size_t len, size_t i, const char *name, size_t nlen,
                           int *found);

/* Decode the reference at s[i] == '&' into b.  Returns the index after it;
 * what is not a complete reference is the text "&". */
static size_t text_amp(struct strbuf *b, const char *s, size_t len, size_t i)
{
    size_t j = i + 1, k;

    if (j < len && s[j] == '#') {
        int hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
        unsigned long v = 0;

        k = j + 1 + (size_t)hex;
        while (k < len && k - j < 10 &&
               (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
            unsigned char c = (unsigned char)s[k];

            v = v * (hex ? 16 : 10) +
                (unsigned long)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
            k++;
        }
        if (k > j + 1 + (size_t)hex && k < len && s[k] == ';') {
            if (v >= 0x80 && v <= 0x9F && cp1252_c1[v - 0x80] != 0)
                v = cp1252_c1[v - 0x80];
            if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                v = 0xFFFD;
            strbuf_add_utf8(b, (unsigned)v);
            return k + 1;
        }
    } else if (j < len && isalpha((unsigned char)s[j])) {
        char name[33];

        k = j;
        while (k < len && k - j < 32 && isalnum((unsigned char)s[k]))
            k++;
        if (k < len && s[k] == ';') {
            static const struct {
                const char *name;
                const char *utf8;
            } common[] = {{"amp", "&"},   {"lt", "<"},
                          {"gt", ">"},    {"quot", "\""},
                          {"apos", "'"},  {"nbsp", " "},
                          {"mdash", "\xe2\x80\x94"}, {"ndash", "\xe2\x80\x93"},
                          {"hellip", "\xe2\x80\xa6"}, {"rsquo", "\xe2\x80\x99"},
                          {"lsquo", "\xe2\x80\x98"}, {"ldquo", "\xe2\x80\x9c"},
                          {"rdquo", "\xe2\x80\x9d"}}; /* the frequent ones first */
            const htmlEntityDesc *ent;

            memcpy(name, s + j, k - j);
            name[k - j] = '\0';
            for (size_t c = 0; c < sizeof(common) / sizeof(common[0]); c++)
                if (strcmp(name, common[c].name) == 0) {
                    strbuf_adds(b, common[c].utf8);
                    return k + 1;
                }
            ent = htmlEntityLookup((const xmlChar *)name); /* libxml2's HTML 4 table */
            if (ent != NULL) {
                strbuf_add_utf8(b, ent->value);
                return k + 1;
            }
        }
    }
    strbuf_add(b, "&", 1);
    return j;
}

/* The HN_HIDDEN elements, for the bits of text_tag()'s *unclosed. */
static const char *const hidden_names[] = {"applet", "head", "iframe", "noscript", "object",
                                           "title"};

/* Skip the tag at s[i] == '<' (followed by a letter, or '/' and a letter),
 * with what it hides.  *unclosed has a bit for each hidden element known
 * to have no end tag further on, so that a thousand unclosed <iframe>s
 * cost one search, not a thousand.  Returns the index after the tag. */
static size_t text_tag(struct strbuf *b, const char *s, size_t len, size_t i, unsigned *unclosed)
{
    char name[16];
    size_t nlen = 0, j = i + 1, namelen;
    int close = 0, self_closing = 0;
    unsigned flags;

    if (s[j] == '/') {
        close = 1;
        j++;
    }
    while (j < len && is_name_char((unsigned char)s[j])) {
        if (nlen < sizeof(name) - 1)
            name[nlen] = s[j];
        nlen++;
        j++;
    }
    namelen = nlen;
    if (nlen >= sizeof(name))
        nlen = 0; /* longer than any name we know */
    name[nlen] = '\0';
    /* attributes, quoted values may hold '>'; an unclosed tag ends at '<' */
    while (j < len && s[j] != '>' && s[j] != '<') {
        if (s[j] == '"' || s[j] == '\'') {
            const char *q = memchr(s + j + 1, s[j], len - j - 1);

            j = q == NULL ? len : (size_t)(q - s) + 1;
            continue;
        }
        j++;
    }
    if (j < len && s[j] == '>') {
        self_closing = s[j - 1] == '/';
        j++;
    }
    if (nlen == 0)
        return j;
    flags = name_flags(name, nlen);
    if (flags & HN_BLOCK) {
        strbuf_add(b, " ", 1);
    } else if (!close && !self_closing && (flags & HN_RAW)) {
        j = skip_element(s, len, j, name, namelen);
    } else if (!close && !self_closing && (flags & HN_HIDDEN)) {
        unsigned bit = 0;
        int found;

        for (size_t h = 0; h < sizeof(hidden_names) / sizeof(hidden_names[0]); h++)
            if (strcasecmp(name, hidden_names[h]) == 0)
                bit = 1u << h;
        if ((*unclosed & bit) == 0) {
            size_t end = find_end_tag(s, len, j, name, namelen, &found);

            if (found)
                j = end;
            else
                *unclosed |= bit;
        }
    }
    return j;
}

/* An empty buffer with room for n bytes (text only shrinks or grows a
 * little, so one allocation usually does); on failure the buffer grows as
 * usual. */
static void presize(struct strbuf *b, size_t n)
{
    b->p = n < SIZE_MAX - 16 ? malloc(n + 16) : NULL;
    if (b->p != NULL) {
        b->cap = n + 16;
        b->p[0] = '\0';
    }
}

/* Copies html from i up to the next '<' or '&' (or its end) to b; returns
 * where it stopped. */
static size_t copy_run(struct strbuf *b, const char *html, size_t len, size_t i)
{
    const char *p = bytescan2(html + i, len - i, '<', '&');
    size_t k = p == NULL ? len : (size_t)(p - html);

    strbuf_add(b, html + i, k - i);
    return k;
}

/* Where the comment opened by the "<!--" at i ends: just past its "-->",
 * or len when it is never closed. */
static size_t comment_end(const char *html, size_t len, size_t i)
{
    for (size_t k = i + 4; k + 3 <= len; k++) {
        const char *dash = memchr(html + k, '-', len - k);

        if (dash == NULL || (size_t)(dash - html) + 3 > len)
            break;
        k = (size_t)(dash - html);
        if (memcmp(html + k, "-->", 3) == 0)
            return k + 3;
    }
    return len;
}

/* Does the '<' at i (rest bytes left) open a tag: a letter or '/' and a
 * letter after it? */
static int opens_tag(const char *html, size_t rest, size_t i)
{
    return rest >= 2 && (isalpha((unsigned char)html[i + 1]) ||
                         (rest >= 3 && html[i + 1] == '/' &&
                          isalpha((unsigned char)html[i + 2])));
}

char *html_to_text(const char *html, size_t len)
{
    struct strbuf b = {0};
    size_t i = 0;
    unsigned unclosed = 0;
    char *s;

    if (html == NULL)
        len = 0;
    len = strnlen(html != NULL ? html : "", len);
    presize(&b, len);
    while (i < len) {
        size_t rest;

        i = copy_run(&b, html, len, i);
        if (i >= len)
            break;
        if (html[i] == '&') {
            i = text_amp(&b, html, len, i);
            continue;
        }
        rest = len - i;
        if (rest >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            i = comment_end(html, len, i);
        } else if (rest >= 2 && (html[i + 1] == '!' || html[i + 1] == '?')) {
            const char *gt = memchr(html + i, '>', rest); /* a declaration */

            i = gt == NULL ? len : (size_t)(gt - html) + 1;
        } else if (opens_tag(html, rest, i)) {
            i = text_tag(&b, html, len, i, &unclosed);
        } else {
            strbuf_add(&b, "<", 1); /* a lone '<' is text */
            i++;
        }
    }
    s = strbuf_take(&b);
    return s != NULL ? html_fold_space(s) : NULL;
}

/* ------------------------------------------------------------------------ */
/* The sanitiser */

static int is_name_char(unsigned char c)
{
    if (c > '>')
        return 1; /* letters, digits above, and all of UTF-8 */
    return c != '\0' && c != ' ' && (c < '\t' || c > '\r') && c != '>' && c != '/' &&
           c != '=' && c != '<' && c != '"' && c != '\'';
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

/* Find the end of a "</name ...>" for an element removed with its content;
 * returns the index after it, or len. */
static size_t skip_element(const char *s, size_t len, size_t i, const char *name, size_t nlen)
{
    return find_end_tag(s, len, i, name, nlen, NULL);
}

/* skip_element(), and *found (may be NULL) = whether the end tag is there. */
static size_t find_end_tag(const char *s, size_t len, size_t i, const char *name, size_t nlen,
                           int *found)
{
    if (found != NULL)
        *found = 0;
    while (i < len) {
        const char *lt = memchr(s + i, '<', len - i);

        if (lt == NULL)
            return len;
        i = (size_t)(lt - s);
        if (i + 2 + nlen <= len && s[i + 1] == '/' && strncasecmp(s + i + 2, name, nlen) == 0 &&
            (i + 2 + nlen == len || !is_name_char((unsigned char)s[i + 2 + nlen]))) {
            const char *gt = memchr(s + i, '>', len - i);

            if (found != NULL)
                *found = 1;
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
    unsigned flags;

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
    flags = name_flags(name, nlen);
    keep = (flags & (HN_REMOVE_TAG | HN_REMOVE_ALL)) == 0;
    if (keep) {
        strbuf_add(b, close ? "</" : "<", close ? 2 : 1);
        strbuf_add(b, s + i + 1 + close, j - i - 1 - close);
    }
    /* attributes */
    for (;;) {
        size_t an, as, vs = 0, ve = 0;
        int has_value = 0;
        unsigned aflags;
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
        aflags = name_flags(s + as, an);
        if ((an >= 2 && (s[as] | 0x20) == 'o' && (s[as + 1] | 0x20) == 'n') ||
            (aflags & HN_DROP_ATTR))
            continue; /* on* event handlers, style, formaction */
        if (has_value && (aflags & HN_URL) && bad_url(s + vs, ve - vs))
            continue;
        if (has_value && an == 5 && strncasecmp(s + as, "xmlns", 5) == 0 && ve - vs == 28 &&
            memcmp(s + vs, "http://www.w3.org/1999/xhtml", 28) == 0)
            continue; /* the XHTML namespace of inline content goes without saying */
        strbuf_add(b, " ", 1);
        strbuf_add(b, s + as, an);
        if (has_value) {
            char *abs = NULL;
            const char *v = s + vs;
            size_t vl = ve - vs;

            if (base != NULL && (aflags & HN_URL)) {
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
            for (size_t k = 0, run = 0; k <= vl; k++) {
                const char *rep = k == vl       ? ""
                                  : v[k] == '"' ? "&quot;"
                                  : v[k] == '<' ? "&lt;"
                                  : v[k] == '>' ? "&gt;"
                                                : NULL;

                if (rep == NULL)
                    continue;
                strbuf_add(b, v + run, k - run); /* the run before it */
                strbuf_adds(b, rep);
                run = k + 1;
            }
            strbuf_add(b, "\"", 1);
            free(abs);
        }
    }
    if (keep) {
        if (self_closing)
            strbuf_add(b, " /", 2);
        strbuf_add(b, ">", 1);
    } else if (!close && !self_closing && (flags & HN_REMOVE_ALL)) {
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
                if (cp1252_c1[v - 0x80] != 0)
                    v = cp1252_c1[v - 0x80];
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
    presize(&b, len);
    while (i < len) {
        size_t rest;

        i = copy_run(&b, html, len, i);
        if (i >= len)
            break;
        if (html[i] == '&') {
            i = sanitize_amp(&b, html, len, i);
            continue;
        }
        rest = len - i;
        if (rest >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            i = comment_end(html, len, i);
        } else if (rest >= 3 && (html[i + 1] == '!' || html[i + 1] == '?') &&
                   isalpha((unsigned char)html[i + 2])) {
            const char *gt = memchr(html + i, '>', rest);

            if (gt == NULL) { /* not a declaration after all: text */
                strbuf_add(&b, html + i, rest);
                i = len;
            } else {
                i = (size_t)(gt - html) + 1;
            }
        } else if (opens_tag(html, rest, i)) {
            i = sanitize_tag(&b, html, len, i, base);
        } else {
            strbuf_add(&b, "&lt;", 4); /* a lone '<' is text */
            i++;
        }
    }
    return strbuf_take(&b);
}

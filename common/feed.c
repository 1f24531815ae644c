/*
 * feed.c - the feed parser's entry point: format sniffing and encodings.
 *
 * feed_parse() decides whether the bytes are JSON (a JSON Feed) or XML,
 * works out the character encoding (BOM, then the HTTP charset, then the
 * XML declaration, else UTF-8), converts to UTF-8 with iconv, recovering
 * from undecodable bytes (flagging the document `bozo`), and repairs the
 * two things that make most real feeds ill-formed before libxml2 sees them:
 * HTML named entities that XML does not define (rewritten as numeric
 * references through libxml2's own HTML entity table) and bare '&'.  It
 * also maps C1 control characters (U+0080..U+009F, which in feeds are
 * always mis-decoded Windows-1252) to what Windows-1252 means by them.
 * feed_xml.c and feed_jsonfeed.c do the rest.
 */
#include "feed.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <libxml/HTMLparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed_internal.h"

/* ------------------------------------------------------------------------ */
/* Small shared helpers */


/* Make room in arr (n elements of size elem) for one more; returns the
 * (possibly moved) array, or NULL when out of memory (arr is still valid
 * then).  Capacity is implicit: 8, then doubling at each power of two, so
 * appends stay linear with no capacity field. */
static void *grow(void *arr, size_t n, size_t elem)
{
    size_t cap;

    if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
        return arr; /* still room */
    cap = n == 0 ? 8 : n * 2;
    if (cap > SIZE_MAX / elem)
        return NULL;
    return realloc(arr, cap * elem);
}

struct feed_doc *feed_doc_new(void)
{
    struct feed_doc *doc = calloc(1, sizeof(*doc));

    if (doc == NULL)
        return NULL;
    doc->updated = doc->published = ITEM_TIME_UNKNOWN;
    return doc;
}

struct feed_entry *feed_doc_add_entry(struct feed_doc *doc)
{
    struct feed_entry *e;

    e = grow(doc->entries, doc->nentries, sizeof(*e));
    if (e == NULL)
        return NULL;
    doc->entries = e;
    e = &doc->entries[doc->nentries++];
    memset(e, 0, sizeof(*e));
    e->published = e->updated = ITEM_TIME_UNKNOWN;
    return e;
}

int feed_doc_set_bozo(struct feed_doc *doc, const char *reason)
{
    doc->bozo = 1;
    if (doc->bozo_reason == NULL && reason != NULL) {
        doc->bozo_reason = strdup(reason);
        if (doc->bozo_reason == NULL)
            return -1;
    }
    return 0;
}

void feed_set_take(char **field, char *value)
{
    free(*field);
    *field = value;
}

int feed_set_once(char **field, const char *value)
{
    if (*field != NULL || value == NULL)
        return 0;
    *field = strdup(value);
    return *field == NULL ? -1 : 0;
}

int feed_add_string(char ***arr, size_t *n, const char *s)
{
    char **a, *copy = strdup(s);

    if (copy == NULL)
        return -1;
    a = grow(*arr, *n, sizeof(*a));
    if (a == NULL) {
        free(copy);
        return -1;
    }
    a[(*n)++] = copy;
    *arr = a;
    return 0;
}

static int dup_or_null(char **dst, const char *s)
{
    *dst = NULL;
    if (s == NULL)
        return 0;
    *dst = strdup(s);
    return *dst == NULL ? -1 : 0;
}

int feed_add_link(struct feed_entry *e, const char *href, const char *rel, const char *type)
{
    struct feed_link *l;

    l = grow(e->links, e->nlinks, sizeof(*l));
    if (l == NULL)
        return -1;
    e->links = l;
    l = &e->links[e->nlinks];
    memset(l, 0, sizeof(*l));
    e->nlinks++;
    if (dup_or_null(&l->href, href) < 0 || dup_or_null(&l->rel, rel) < 0 ||
        dup_or_null(&l->type, type) < 0)
        return -1;
    return 0;
}

int feed_add_enclosure(struct feed_entry *e, const char *href, const char *type,
                       const char *length)
{
    struct feed_enclosure *x;

    x = grow(e->enclosures, e->nenclosures, sizeof(*x));
    if (x == NULL)
        return -1;
    e->enclosures = x;
    x = &e->enclosures[e->nenclosures];
    memset(x, 0, sizeof(*x));
    e->nenclosures++;
    if (dup_or_null(&x->href, href) < 0 || dup_or_null(&x->type, type) < 0 ||
        dup_or_null(&x->length, length) < 0)
        return -1;
    return 0;
}

char *feed_author_string(const char *name, const char *email)
{
    struct strbuf b = {0};

    if (name != NULL && *name == '\0')
        name = NULL;
    if (email != NULL && *email == '\0')
        email = NULL;
    if (name == NULL && email == NULL)
        return NULL;
    if (name != NULL && email != NULL) {
        strbuf_adds(&b, name);
        strbuf_adds(&b, " (");
        strbuf_adds(&b, email);
        strbuf_adds(&b, ")");
    } else {
        strbuf_adds(&b, name != NULL ? name : email);
    }
    return strbuf_take(&b);
}

static void free_strings(char ***arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*arr)[i]);
    free(*arr);
    *arr = NULL;
    *n = 0;
}

void feed_doc_free(struct feed_doc **pdoc)
{
    struct feed_doc *doc;

    if (pdoc == NULL || *pdoc == NULL)
        return;
    doc = *pdoc;
    for (size_t i = 0; i < doc->nentries; i++) {
        struct feed_entry *e = &doc->entries[i];

        free(e->id);
        free(e->title);
        free(e->link);
        free(e->summary);
        free(e->content);
        free(e->author);
        free_strings(&e->categories, &e->ncategories);
        for (size_t k = 0; k < e->nlinks; k++) {
            free(e->links[k].href);
            free(e->links[k].rel);
            free(e->links[k].type);
        }
        free(e->links);
        for (size_t k = 0; k < e->nenclosures; k++) {
            free(e->enclosures[k].href);
            free(e->enclosures[k].type);
            free(e->enclosures[k].length);
        }
        free(e->enclosures);
    }
    free(doc->entries);
    free(doc->version);
    free(doc->bozo_reason);
    free(doc->encoding);
    free(doc->title);
    free(doc->link);
    free(doc->subtitle);
    free(doc->id);
    free(doc->author);
    free(doc->language);
    free(doc->rights);
    free(doc->generator);
    free_strings(&doc->categories, &doc->ncategories);
    free(doc);
    *pdoc = NULL;
}

/* ------------------------------------------------------------------------ */
/* Encodings */

/* What Windows-1252 means by byte c (0x80..0x9F), or 0 when it means
 * nothing (0x81, 0x8D, 0x8F, 0x90, 0x9D).  iconv holds the table. */
static unsigned cp1252_char(iconv_t cd, unsigned char c)
{
    char in[1] = {(char)c}, out[8];
    char *ip = in, *op = out;
    size_t il = 1, ol = sizeof(out);
    unsigned char *u = (unsigned char *)out;

    if (cd == (iconv_t)-1)
        return 0;
    iconv(cd, NULL, NULL, NULL, NULL);
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
        return 0;
    switch (op - out) {
    case 1:
        return u[0];
    case 2:
        return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu);
    case 3:
        return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    default:
        return 0;
    }
}

/* Copy the lower-cased charset name found after `key=` in s (an HTTP
 * Content-Type, or an XML declaration) into name.  Returns 1 when found. */
static int find_param(const char *s, size_t len, const char *key, char *name, size_t size)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i + klen < len; i++) {
        size_t j, k = 0;

        if (strncasecmp(s + i, key, klen) != 0 || (i > 0 && isalnum((unsigned char)s[i - 1])))
            continue;
        j = i + klen;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        if (j >= len || s[j] != '=')
            continue;
        j++;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        if (j < len && (s[j] == '"' || s[j] == '\''))
            j++;
        while (j < len && k < size - 1 && (isalnum((unsigned char)s[j]) || strchr("-_.:", s[j]))) {
            name[k++] = (char)tolower((unsigned char)s[j]);
            j++;
        }
        name[k] = '\0';
        return k > 0;
    }
    return 0;
}

/* The canonical (feedparser) name of an encoding, lower-case. */
static void canonical_name(const char *in, char *out, size_t size)
{
    static const struct {
        const char *alias, *name;
    } aliases[] = {
        {"utf8", "utf-8"},        {"latin1", "iso-8859-1"},  {"latin-1", "iso-8859-1"},
        {"iso8859-1", "iso-8859-1"}, {"iso_8859-1", "iso-8859-1"}, {"l1", "iso-8859-1"},
        {"cp1252", "windows-1252"}, {"ascii", "us-ascii"},   {"utf16", "utf-16"},
        {"ucs-2", "utf-16"},      {"utf32", "utf-32"},
    };

    snprintf(out, size, "%s", in);
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcmp(in, aliases[i].alias) == 0)
            snprintf(out, size, "%s", aliases[i].name);
}

struct decoded {
    char *text; /* UTF-8, NUL-terminated */
    size_t len;
    char encoding[48];
};

/* Convert buf from encoding `from` (a canonical name) to UTF-8.  Bytes that
 * do not decode are read as Windows-1252 (Latin-1 where that has no
 * character) and counted in *bad.  Returns 0, or -1 when iconv does not know
 * the encoding or out of memory. */
static int convert(const char *buf, size_t len, const char *from, iconv_t cp1252,
                   struct strbuf *out, size_t *bad)
{
    const char *src = from;
    iconv_t cd;
    char *ip = (char *)buf;
    size_t il = len;
    char tmp[4096];

    if (strcmp(from, "iso-8859-1") == 0 || strcmp(from, "us-ascii") == 0)
        src = "WINDOWS-1252"; /* what such feeds really are */
    cd = iconv_open("UTF-8", src);
    if (cd == (iconv_t)-1)
        return -1;
    *bad = 0;
    while (il > 0 && !out->oom) {
        char *op = tmp;
        size_t ol = sizeof(tmp);
        size_t r = iconv(cd, &ip, &il, &op, &ol);

        strbuf_add(out, tmp, (size_t)(op - tmp));
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG)
            continue;
        /* EILSEQ or EINVAL: one byte we cannot decode */
        {
            unsigned char c = (unsigned char)*ip;
            unsigned cp = c >= 0x80 && c <= 0x9F ? cp1252_char(cp1252, c) : 0;

            if (strcmp(src, "WINDOWS-1252") != 0)
                (*bad)++;
            strbuf_add_utf8(out, cp != 0 ? cp : c);
            ip++;
            il--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    if (!out->oom) {
        char *op = tmp;
        size_t ol = sizeof(tmp);

        iconv(cd, NULL, NULL, &op, &ol);
        strbuf_add(out, tmp, (size_t)(op - tmp));
    }
    iconv_close(cd);
    return out->oom ? -1 : 0;
}

/* Decide the encoding of buf and convert it to UTF-8 into *dec.  Problems
 * that were recovered from set doc->bozo.  Returns 0 or -1 (out of memory). */
static int decode(const char *buf, size_t len, const char *content_type, int is_json,
                  iconv_t cp1252, struct feed_doc *doc, struct decoded *dec)
{
    const unsigned char *u = (const unsigned char *)buf;
    const char *enc = NULL;
    size_t skip = 0, bad = 0;
    char declared[48] = "", http[48] = "", name[48];
    struct strbuf out = {0};

    if (len >= 4 && memcmp(u, "\xFF\xFE\0\0", 4) == 0)
        enc = "utf-32le", skip = 4;
    else if (len >= 4 && memcmp(u, "\0\0\xFE\xFF", 4) == 0)
        enc = "utf-32be", skip = 4;
    else if (len >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0)
        enc = "utf-8", skip = 3;
    else if (len >= 2 && memcmp(u, "\xFE\xFF", 2) == 0)
        enc = "utf-16be", skip = 2;
    else if (len >= 2 && memcmp(u, "\xFF\xFE", 2) == 0)
        enc = "utf-16le", skip = 2;
    else if (len >= 4 && memcmp(u, "\0\0\0<", 4) == 0)
        enc = "utf-32be";
    else if (len >= 4 && memcmp(u, "<\0\0\0", 4) == 0)
        enc = "utf-32le";
    else if (len >= 4 && memcmp(u, "\0<\0?", 4) == 0)
        enc = "utf-16be";
    else if (len >= 4 && memcmp(u, "<\0?\0", 4) == 0)
        enc = "utf-16le";

    if (content_type != NULL && find_param(content_type, strlen(content_type), "charset", name,
                                           sizeof(name)))
        canonical_name(name, http, sizeof(http));
    if (enc == NULL && !is_json && len >= 5 && memcmp(buf, "<?xml", 5) == 0) {
        const char *end = memchr(buf, '>', len < 512 ? len : 512);
        size_t dlen = end != NULL ? (size_t)(end - buf) : 0;

        if (find_param(buf, dlen, "encoding", name, sizeof(name)))
            canonical_name(name, declared, sizeof(declared));
    }
    if (enc == NULL)
        enc = http[0] != '\0' ? http : declared[0] != '\0' ? declared : "utf-8";
    if (is_json && strncmp(enc, "utf-", 4) != 0)
        enc = "utf-8"; /* JSON is Unicode, whatever the header says */
    /* a declaration of utf-16/utf-32 in an 8-bit document is wrong: UTF-8 */
    if ((strcmp(enc, "utf-16") == 0 || strcmp(enc, "utf-32") == 0) && skip == 0) {
        feed_doc_set_bozo(doc, "document declared as utf-16/utf-32 is 8-bit, read as utf-8");
        enc = "utf-8";
    }
    snprintf(dec->encoding, sizeof(dec->encoding), "%s", enc);
    if (convert(buf + skip, len - skip, enc, cp1252, &out, &bad) < 0) {
        if (out.oom) {
            strbuf_release(&out);
            return -1;
        }
        char reason[128];

        snprintf(reason, sizeof(reason), "unknown encoding %.40s, read as utf-8", enc);
        if (feed_doc_set_bozo(doc, reason) < 0)
            return -1;
        snprintf(dec->encoding, sizeof(dec->encoding), "utf-8");
        strbuf_release(&out);
        if (convert(buf + skip, len - skip, "utf-8", cp1252, &out, &bad) < 0) {
            strbuf_release(&out);
            return -1;
        }
    }
    if (bad > 0) {
        char reason[128];

        snprintf(reason, sizeof(reason), "%zu byte%s not valid %s", bad, bad == 1 ? "" : "s",
                 dec->encoding);
        if (feed_doc_set_bozo(doc, reason) < 0) {
            strbuf_release(&out);
            return -1;
        }
    }
    dec->len = out.len;
    dec->text = strbuf_take(&out);
    if (dec->text == NULL)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Repairing XML text before libxml2 reads it */

#define MAX_DECLARED 256

struct repair {
    char *declared[MAX_DECLARED]; /* entity names the internal subset declares */
    size_t ndeclared;
    int external_dtd; /* a DOCTYPE with PUBLIC/SYSTEM: it may define HTML entities */
    size_t fixed;     /* undefined entities and bare '&' rewritten */
};

static int is_name_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || isdigit(c) || c == '-' || c == '.';
}

/* Collect the names declared by <!ENTITY name ...> (not parameter entities)
 * and note an external DOCTYPE. */
static void find_declarations(const char *s, size_t len, struct repair *r)
{
    const char *p = s, *end = s + len;
    const char *dt = NULL;

    for (size_t i = 0; i + 9 < len && i < 4096; i++)
        if (memcmp(s + i, "<!DOCTYPE", 9) == 0) {
            dt = s + i;
            break;
        }
    if (dt != NULL) {
        const char *gt = memchr(dt, '>', (size_t)(end - dt));
        const char *br = memchr(dt, '[', (size_t)(end - dt));
        const char *stop = gt != NULL && (br == NULL || gt < br) ? gt : br;
        size_t n = stop != NULL ? (size_t)(stop - dt) : 0;

        for (size_t i = 0; i + 6 <= n; i++)
            if (memcmp(dt + i, "PUBLIC", 6) == 0 || memcmp(dt + i, "SYSTEM", 6) == 0)
                r->external_dtd = 1;
    }
    while (p < end && r->ndeclared < MAX_DECLARED) {
        const char *q = NULL, *n0;

        for (const char *k = p; k + 8 <= end; k++) {
            k = memchr(k, '<', (size_t)(end - k));
            if (k == NULL || k + 8 > end)
                break;
            if (memcmp(k, "<!ENTITY", 8) == 0) {
                q = k;
                break;
            }
        }
        if (q == NULL)
            break;
        p = q + 8;
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p == '%')
            continue;
        n0 = p;
        while (p < end && is_name_char((unsigned char)*p))
            p++;
        if (p > n0) {
            r->declared[r->ndeclared] = strndup(n0, (size_t)(p - n0));
            if (r->declared[r->ndeclared] != NULL)
                r->ndeclared++;
        }
    }
}

static int is_declared(const struct repair *r, const char *name, size_t n)
{
    static const char *const xml_entities[] = {"amp", "lt", "gt", "quot", "apos"};

    for (size_t i = 0; i < 5; i++)
        if (strlen(xml_entities[i]) == n && memcmp(xml_entities[i], name, n) == 0)
            return 1;
    for (size_t i = 0; i < r->ndeclared; i++)
        if (strlen(r->declared[i]) == n && memcmp(r->declared[i], name, n) == 0)
            return 1;
    return 0;
}

/* Copy s[i..] up to and including `end` (or to the end of s).  Returns the
 * new index. */
static size_t copy_through(struct strbuf *b, const char *s, size_t len, size_t i,
                           const char *endstr)
{
    size_t el = strlen(endstr);

    for (size_t k = i; k + el <= len; k++) {
        const char *c = memchr(s + k, endstr[0], len - k);

        if (c == NULL)
            break;
        k = (size_t)(c - s);
        if (k + el <= len && memcmp(s + k, endstr, el) == 0) {
            strbuf_add(b, s + i, k + el - i);
            return k + el;
        }
    }
    strbuf_add(b, s + i, len - i);
    return len;
}

/* Handle the '&' at s[i]; returns the index after what was consumed. */
static size_t repair_amp(struct strbuf *b, const char *s, size_t len, size_t i,
                         struct repair *r, iconv_t cp1252)
{
    size_t j = i + 1;
    char num[16];

    if (j < len && s[j] == '#') {
        int hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
        size_t k = j + 1 + (size_t)hex, d0 = k;
        unsigned long v = 0;

        while (k < len && k - d0 < 8 &&
               (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
            v = v * (hex ? 16 : 10) +
                (unsigned long)(isdigit((unsigned char)s[k]) ? s[k] - '0'
                                                             : tolower((unsigned char)s[k]) - 'a' + 10);
            k++;
        }
        if (k > d0 && k < len && s[k] == ';') {
            unsigned cp = v >= 0x80 && v <= 0x9F ? cp1252_char(cp1252, (unsigned char)v) : 0;

            if (cp != 0) { /* &#146; means the Windows-1252 quote */
                snprintf(num, sizeof(num), "&#%u;", cp);
                strbuf_adds(b, num);
            } else if (hex && s[j + 1] == 'X') { /* XML wants a lower-case x */
                snprintf(num, sizeof(num), "&#%lu;", v);
                strbuf_adds(b, num);
            } else {
                strbuf_add(b, s + i, k + 1 - i);
            }
            return k + 1;
        }
    } else if (j < len && is_name_start((unsigned char)s[j])) {
        size_t k = j;

        while (k < len && k - j < 64 && is_name_char((unsigned char)s[k]))
            k++;
        if (k < len && s[k] == ';') {
            char name[65];
            const htmlEntityDesc *ent;

            if (is_declared(r, s + j, k - j)) {
                strbuf_add(b, s + i, k + 1 - i);
                return k + 1;
            }
            memcpy(name, s + j, k - j);
            name[k - j] = '\0';
            ent = htmlEntityLookup((const xmlChar *)name);
            if (ent != NULL) {
                snprintf(num, sizeof(num), "&#%u;", ent->value);
                strbuf_adds(b, num);
                if (!r->external_dtd)
                    r->fixed++;
                return k + 1;
            }
        }
    }
    strbuf_adds(b, "&amp;"); /* a bare '&' or an unknown entity: keep it as text */
    r->fixed++;
    return j;
}

/* Rewrite text (UTF-8 XML) into out; see the top of the file. */
static void repair_xml(const char *s, size_t len, struct repair *r, iconv_t cp1252,
                       struct strbuf *out)
{
    size_t i = 0;

    find_declarations(s, len, r);
    while (i < len && !out->oom) {
        size_t k = i;

        while (k < len && s[k] != '&' && s[k] != '<' && (unsigned char)s[k] != 0xC2)
            k++;
        strbuf_add(out, s + i, k - i);
        i = k;
        if (i >= len)
            break;
        if (s[i] == '&') {
            i = repair_amp(out, s, len, i, r, cp1252);
        } else if ((unsigned char)s[i] == 0xC2) {
            unsigned char c = i + 1 < len ? (unsigned char)s[i + 1] : 0;
            unsigned cp = c >= 0x80 && c <= 0x9F ? cp1252_char(cp1252, c) : 0;

            if (cp != 0) {
                strbuf_add_utf8(out, cp);
                i += 2;
            } else {
                strbuf_add(out, s + i, 1);
                i++;
            }
        } else if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            i = copy_through(out, s, len, i, "-->");
        } else if (len - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
            i = copy_through(out, s, len, i, "]]>");
        } else if (len - i >= 2 && s[i + 1] == '?') {
            i = copy_through(out, s, len, i, "?>");
        } else if (len - i >= 9 && memcmp(s + i, "<!DOCTYPE", 9) == 0) {
            const char *gt = memchr(s + i, '>', len - i);
            const char *br = memchr(s + i, '[', len - i);

            if (br != NULL && (gt == NULL || br < gt))
                i = copy_through(out, s, len, i, "]");
            else
                i = copy_through(out, s, len, i, ">");
        } else {
            strbuf_add(out, s + i, 1);
            i++;
        }
    }
}

/* ------------------------------------------------------------------------ */

int feed_parse(const char *buf, size_t len, const char *base_url, const char *content_type,
               struct feed_doc **out, na_error *err)
{
    struct feed_doc *doc = NULL;
    struct decoded dec = {0};
    struct repair rep = {0};
    struct strbuf fixed = {0};
    iconv_t cp1252 = (iconv_t)-1;
    size_t i = 0;
    int is_json, rc = -1;

    *out = NULL;
    na_error_clear(err);
    if (buf == NULL)
        len = 0;
    /* the first significant byte, past a BOM and whitespace, decides */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    else if (len >= 2 && (memcmp(buf, "\xFE\xFF", 2) == 0 || memcmp(buf, "\xFF\xFE", 2) == 0))
        i = 2;
    else if (len >= 4 && memcmp(buf, "\0\0\xFE\xFF", 4) == 0)
        i = 4;
    while (i < len && (isspace((unsigned char)buf[i]) || buf[i] == '\0'))
        i++;
    if (i >= len)
        return na_error_set(err, 0, 0, "empty document");
    is_json = buf[i] == '{' || buf[i] == '[';
    if (!is_json && buf[i] != '<')
        return na_error_set(err, 0, 0, "not a feed: no XML or JSON found (first byte 0x%02x)",
                            (unsigned char)buf[i]);

    doc = feed_doc_new();
    if (doc == NULL)
        return na_error_set(err, 0, 0, "out of memory");
    cp1252 = iconv_open("UTF-8", "WINDOWS-1252");
    if (decode(buf, len, content_type, is_json, cp1252, doc, &dec) < 0) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    doc->encoding = strdup(dec.encoding);
    if (doc->encoding == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    if (memchr(dec.text, '\0', dec.len) != NULL) {
        na_error_set(err, 0, 0, "not a feed: binary data (NUL byte at offset %zu)",
                     (size_t)((const char *)memchr(dec.text, '\0', dec.len) - dec.text));
        goto done;
    }
    if (is_json) {
        rc = feed_jsonfeed_parse(dec.text, dec.len, doc, err);
        goto done;
    }
    repair_xml(dec.text, dec.len, &rep, cp1252, &fixed);
    if (fixed.oom) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    if (rep.fixed > 0 && feed_doc_set_bozo(doc, "undefined entity or bare '&'") < 0) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    rc = feed_xml_parse(fixed.p, fixed.len, base_url, doc, err);

done:
    if (cp1252 != (iconv_t)-1)
        iconv_close(cp1252);
    for (size_t k = 0; k < rep.ndeclared; k++)
        free(rep.declared[k]);
    strbuf_release(&fixed);
    free(dec.text);
    if (rc < 0) {
        feed_doc_free(&doc);
        return -1;
    }
    *out = doc;
    return 0;
}

int feed_parse_file(const char *path, struct feed_doc **out, na_error *err)
{
    FILE *fp;
    struct strbuf b = {0};
    char tmp[65536];
    size_t n;
    int rc;

    *out = NULL;
    fp = fopen(path, "rb");
    if (fp == NULL) {
        na_error_set(err, 0, 0, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0) {
        if (b.len + n > FEED_MAX_SIZE) {
            fclose(fp);
            strbuf_release(&b);
            return na_error_set(err, 0, 0, "%s: file larger than %u bytes", path, FEED_MAX_SIZE);
        }
        strbuf_add(&b, tmp, n);
    }
    if (ferror(fp)) {
        fclose(fp);
        strbuf_release(&b);
        return na_error_set(err, 0, 0, "%s: read error", path);
    }
    fclose(fp);
    if (b.oom) {
        strbuf_release(&b);
        return na_error_set(err, 0, 0, "%s: out of memory", path);
    }
    rc = feed_parse(b.p, b.len, NULL, NULL, out, err);
    strbuf_release(&b);
    if (rc < 0)
        na_error_prefix(err, "%s", path);
    return rc;
}

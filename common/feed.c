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
#include <limits.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bytescan.h"
#include "feed_internal.h"
#include "html.h"

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

void feed_init(void)
{
    xmlInitParser();
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

int feed_doc_full(struct feed_doc *doc)
{
    char reason[80];

    if (doc->nentries < FEED_MAX_ENTRIES)
        return 0;
    snprintf(reason, sizeof(reason), "more than %u entries: the rest are ignored",
             FEED_MAX_ENTRIES);
    /* the first problem found stays the reason, as everywhere */
    return feed_doc_set_bozo(doc, doc->bozo_reason == NULL ? reason : NULL) < 0 ? -1 : 1;
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
 * nothing (0x81, 0x8D, 0x8F, 0x90, 0x9D).  A table (html.c) rather than
 * iconv: opening an iconv descriptor for every document cost more than
 * parsing a small feed. */
static unsigned cp1252_char(unsigned char c)
{
    return html_cp1252(c);
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

/* Is s (n bytes) well-formed UTF-8, as strict as iconv is: no overlong
 * forms, no surrogates, nothing above U+10FFFF?  ASCII goes 8 bytes at a
 * time, so a UTF-8 feed skips iconv at little cost. */
static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    while (p < end) {
        unsigned c = *p;

        if (c < 0x80) {
            while (end - p >= 8) {
                uint64_t w;

                memcpy(&w, p, 8);
                if ((w & UINT64_C(0x8080808080808080)) != 0)
                    break;
                p += 8;
            }
            while (p < end && *p < 0x80)
                p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (end - p < 2 || (p[1] & 0xC0) != 0x80)
                return 0;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
                return 0;
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80 || (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
                return 0;
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Convert buf from encoding `from` (a canonical name) to UTF-8.  Bytes that
 * do not decode are read as Windows-1252 (Latin-1 where that has no
 * character) and counted in *bad.  Returns 0, or -1 when iconv does not know
 * the encoding or out of memory. */
static int convert(const char *buf, size_t len, const char *from,
                   struct strbuf *out, size_t *bad)
{
    const char *src = from;
    iconv_t cd;
    char *ip = (char *)buf;
    size_t il = len;
    char tmp[4096];

    if (strcmp(from, "utf-8") == 0 && utf8_valid(buf, len)) {
        *bad = 0; /* the common case: nothing to convert */
        strbuf_add(out, buf, len);
        return out->oom ? -1 : 0;
    }
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
            unsigned cp = c >= 0x80 && c <= 0x9F ? cp1252_char(c) : 0;

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
                  struct feed_doc *doc, struct decoded *dec)
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
    if (convert(buf + skip, len - skip, enc, &out, &bad) < 0) {
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
        if (convert(buf + skip, len - skip, "utf-8", &out, &bad) < 0) {
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
    /* the real DOCTYPE and the end of its internal subset (past its ']'),
     * when find_declarations() found one that ends cleanly, else 0 */
    size_t doctype_at, subset_end;
};

static int is_name_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || isdigit(c) || c == '-' || c == '.';
}

/* ------------------------------------------------------------------------ */
/* What libxml2 reads as markup
 *
 * The two guards below (attributes_over, entries_cut) and find_declarations
 * look for start tags and declarations in the text before libxml2 parses
 * it.  Text that libxml2 does not read as markup must not count: comments,
 * CDATA sections and processing instructions are passed over exactly where
 * libxml2 passes over them (libxml2 2.9, checked with xmllint --recover):
 *  - a section ends just past its terminator ("-->", "]]>", "?>"; for a
 *    comment see comment_end()), or at the first character XML does not
 *    allow (a C0 control other than tab, LF and CR; U+FFFE; U+FFFF), where
 *    libxml2 reports it and reads on AS CONTENT, or at the end of the text
 *    when it is never closed;
 *  - "<?" opens a processing instruction only before an ASCII name start
 *    (libxml2 reads on as content after "<?" and no target);
 *  - the XML declaration at offset 0 ends at its first '>' (libxml2 skips
 *    to it when the declaration is broken), not at "?>";
 *  - a '<' inside a quoted attribute value ends the value and the tag
 *    (libxml2 refuses it there and reads a new tag from it).
 * Where libxml2's reading is not that simple the walk stops passing over
 * anything ("literal" mode: every '<' and a name is a tag, as the guards
 * always counted): a DOCTYPE with an internal subset (its literals may hold
 * "<!--"), a DOCTYPE libxml2 gives up on (doctype_end()), and a
 * section longer than libxml2 reads (XML_MAX_TEXT_LENGTH, past which it
 * gives up somewhere and reads on as content).  Over-counting there is
 * safe: a guard may refuse or cut a broken document, it must never let a
 * tag through that libxml2 then parses.  Every byte is read a bounded
 * number of times, whatever the input.
 */

/* Sections longer than this are not passed over (libxml2 reads at least
 * XML_MAX_TEXT_LENGTH bytes of one, 10,000,000, without XML_PARSE_HUGE). */
#define SECTION_MAX (XML_MAX_TEXT_LENGTH - 64)

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Does the word hold a byte below 0x20, equal to t, or 0xEF?  (No false
 * negative; a false positive only above a true one.) */
static int word_may_stop(uint64_t w, uint64_t t)
{
    uint64_t a = w ^ t, e = w ^ (ONES * 0xEF);

    return ((((w - ONES * 0x20) & ~w) | ((a - ONES) & ~a) | ((e - ONES) & ~e)) & HIGHS) != 0;
}

/* Where libxml2 stops reading the comment, CDATA section or processing
 * instruction whose body starts at p and ends with term (tlen bytes): just
 * past term (*closed = 1), at the first character XML does not allow, or
 * at end.  NULL when the body runs past SECTION_MAX bytes.  Eight bytes at
 * a time; each byte is read once. */
static const char *section_end(const char *p, const char *end, const char *term, size_t tlen,
                               int *closed)
{
    const char *limit = (size_t)(end - p) > SECTION_MAX ? p + SECTION_MAX : end;
    const unsigned char t0 = (unsigned char)term[0];
    const uint64_t t = ONES * t0;

    *closed = 0;
    while (p < limit) {
        const char *stop = limit;

        if (limit - p >= 8) {
            uint64_t w;

            memcpy(&w, p, 8);
            if (!word_may_stop(w, t)) {
                p += 8;
                continue;
            }
            stop = p + 8;
        }
        for (; p < stop; p++) {
            unsigned char c = (unsigned char)*p;

            if (c == t0) {
                if ((size_t)(end - p) >= tlen && memcmp(p, term, tlen) == 0) {
                    *closed = 1;
                    return p + tlen;
                }
            } else if (c < 0x20) {
                if (c != '\t' && c != '\n' && c != '\r')
                    return p;
            } else if (c == 0xEF && end - p >= 3 && (unsigned char)p[1] == 0xBF &&
                       ((unsigned char)p[2] & 0xFE) == 0xBE) {
                return p;
            }
        }
    }
    return limit == end ? end : NULL;
}

/* The "--" pairs in one comment that libxml2 is left to report. */
#define COMMENT_PAIRS_KEPT 16

/* Where libxml2 2.9 stops reading the comment whose body starts at p, as
 * section_end() does for the others, but to the letter of its two loops:
 * while the body is ASCII (tab, LF, CR LF, 0x20..0x7F) it takes "--" in
 * pairs from the left, so "--->" does not end the comment there; from the
 * first other character on, the first "-->" ends it (overlapping).
 * NULL when the body runs past SECTION_MAX bytes.
 *
 * When out is not NULL the body (to the returned end, or to SECTION_MAX)
 * is appended to it with each "--" pair of the ASCII part past the
 * COMMENT_PAIRS_KEPT-th written "- ": libxml2 copies the whole comment so
 * far into the error it raises for each such pair, so a comment of many
 * "--" took time quadratic in its length (80,000 pairs: 14 s).  The end is
 * the same (a pair followed by '>' is never rewritten, and the pairing
 * after a rewritten one does not move); comments are not part of what a
 * feed gives. */
static const char *comment_end(const char *p, const char *end, int *closed,
                               struct strbuf *out)
{
    const char *limit = (size_t)(end - p) > SECTION_MAX ? p + SECTION_MAX : end;
    const char *from = p, *ret = NULL;
    int fast = 1;
    size_t pairs = 0;

    *closed = 0;
    while (p < limit) {
        unsigned char c = (unsigned char)*p;

        if ((c >= 0x20 && c < 0x80 && c != '-') || c == '\t' || c == '\n') {
            p++;
        } else if (c == '-') {
            if (end - p >= 3 && p[1] == '-' && p[2] == '>') {
                *closed = 1;
                ret = p + 3;
                goto done;
            }
            if (fast && end - p >= 2 && p[1] == '-') {
                if (++pairs > COMMENT_PAIRS_KEPT && out != NULL) {
                    strbuf_add(out, from, (size_t)(p + 1 - from));
                    strbuf_add(out, " ", 1);
                    from = p + 2;
                }
                p += 2;
            } else {
                p++;
            }
        } else if (c == '\r') {
            if (end - p < 2 || p[1] != '\n')
                fast = 0; /* a lone CR: the second loop */
            p++;
        } else if (c < 0x20 || (c == 0xEF && end - p >= 3 && (unsigned char)p[1] == 0xBF &&
                                ((unsigned char)p[2] & 0xFE) == 0xBE)) {
            ret = p; /* a character XML does not allow */
            goto done;
        } else {
            fast = 0; /* not ASCII: the second loop */
            p++;
        }
    }
    ret = limit == end ? end : NULL;
done:
    if (out != NULL)
        strbuf_add(out, from, (size_t)((ret != NULL ? ret : limit) - from));
    return ret;
}

/* The end of a DOCTYPE declaration whose name starts at p (just past
 * "<!DOCTYPE"): just past its '>'.  NULL when it is not clean: an internal
 * subset ('['), a '<' outside a quoted literal, a character XML does not
 * allow (libxml2 gives up there, and reads a root element from the '<'
 * just after), no end.  (A '<' in a system literal is text to libxml2; in
 * a public one it makes libxml2 give up on the document.) */
static const char *doctype_end(const char *p, const char *end)
{
    static const unsigned char stop[256] = {
        ['>'] = 1,  ['<'] = 1,  ['['] = 1,  ['"'] = 2,  ['\''] = 2, [0x01] = 1, [0x02] = 1,
        [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x0B] = 1,
        [0x0C] = 1, [0x0E] = 1, [0x0F] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1,
        [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1A] = 1,
        [0x1B] = 1, [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1, [0xEF] = 1};

    while (p < end) {
        while (p < end && !stop[(unsigned char)*p])
            p++;
        if (p >= end || stop[(unsigned char)*p] == 1)
            return p < end && *p == '>' ? p + 1 : NULL;
        /* a quoted literal: no character XML does not allow in it */
        for (const char *q = p + 1;; q++) {
            if (q >= end || (stop[(unsigned char)*q] == 1 && *q != '>' && *q != '[' && *q != '<'))
                return NULL;
            if (*q == *p) {
                p = q + 1;
                break;
            }
        }
    }
    return NULL;
}

struct markup_walk {
    const char *s, *end;
    int root;    /* a start tag was seen: the prolog is over */
    int literal; /* nothing is passed over any more (see above) */
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_ascii_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

/* The first '<' at or after p that opens a start tag as libxml2 reads the
 * text ('<' and a name start), or NULL. */
static const char *next_start_tag(struct markup_walk *w, const char *p)
{
    const char *end = w->end;

    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        size_t rest = (size_t)(end - p);
        const char *q = p + 1;
        int closed;

        if (rest >= 2 && is_name_start((unsigned char)p[1])) {
            w->root = 1;
            return p;
        }
        if (w->literal || rest < 3) {
            p = q;
            continue;
        }
        if (p == w->s && rest >= 6 && memcmp(p, "<?xml", 5) == 0 && is_blank(p[5])) {
            q = memchr(p, '>', rest); /* the XML declaration */
            q = q != NULL ? q + 1 : end;
        } else if (p[1] == '?' && is_ascii_name_start(p[2])) {
            q = section_end(p + 2, end, "?>", 2, &closed);
        } else if (rest >= 4 && memcmp(p, "<!--", 4) == 0) {
            q = comment_end(p + 4, end, &closed, NULL);
        } else if (rest >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
            q = section_end(p + 9, end, "]]>", 3, &closed);
        } else if (!w->root && rest >= 9 && memcmp(p, "<!DOCTYPE", 9) == 0) {
            q = doctype_end(p + 9, end);
        }
        if (q == NULL) {
            w->literal = 1;
            q = p + 1;
        }
        p = q;
    }
    return NULL;
}

/* Collect the names declared by <!ENTITY name ...> (not parameter
 * entities) in the internal subset of the document's DOCTYPE, and note an
 * external DOCTYPE (PUBLIC or SYSTEM).  Only the real DOCTYPE counts (in
 * the prolog, after comments and processing instructions), and in its
 * subset only declarations: an "<!ENTITY" in a comment, a literal, a CDATA
 * section or the text of an article declares nothing.  Sets r->doctype_at
 * and r->subset_end (just past the subset's ']') when the subset ends
 * cleanly.  Reads each byte a bounded number of times. */
static void find_declarations(const char *s, size_t len, struct repair *r)
{
    const char *p = s, *end = s + len, *q, *dt;
    int closed;

    if (len >= 6 && memcmp(s, "<?xml", 5) == 0 && is_blank(s[5])) {
        q = memchr(s, '>', len);
        p = q != NULL ? q + 1 : end;
    }
    for (;;) { /* the prolog */
        while (p < end && is_blank(*p))
            p++;
        if (end - p >= 4 && memcmp(p, "<!--", 4) == 0)
            q = comment_end(p + 4, end, &closed, NULL);
        else if (end - p >= 3 && p[0] == '<' && p[1] == '?' && is_ascii_name_start(p[2]))
            q = section_end(p + 2, end, "?>", 2, &closed);
        else
            break;
        if (q == NULL || !closed)
            return;
        p = q;
    }
    if (end - p < 9 || memcmp(p, "<!DOCTYPE", 9) != 0)
        return;
    dt = p;
    /* the header, to its '>' or '[' (quoted literals may hold either) */
    for (q = p + 9; q < end && *q != '>' && *q != '['; q++) {
        if (*q == '"' || *q == '\'') {
            const char *lit_end = memchr(q + 1, *q, (size_t)(end - q - 1));

            if (lit_end == NULL)
                return;
            q = lit_end;
        } else if (end - q >= 6 && (memcmp(q, "PUBLIC", 6) == 0 || memcmp(q, "SYSTEM", 6) == 0)) {
            r->external_dtd = 1;
        }
    }
    if (q >= end || *q != '[')
        return;
    p = q + 1;
    for (;;) { /* the internal subset: declarations, comments, PIs, %refs; */
        while (p < end && is_blank(*p))
            p++;
        if (p >= end)
            return;
        if (*p == ']') {
            r->doctype_at = (size_t)(dt - s);
            r->subset_end = (size_t)(p + 1 - s);
            return;
        }
        if (*p == '%') {
            p++;
            while (p < end && is_name_char((unsigned char)*p))
                p++;
            if (p >= end || *p != ';')
                return;
            p++;
            continue;
        }
        if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
            q = comment_end(p + 4, end, &closed, NULL);
        } else if (end - p >= 3 && p[0] == '<' && p[1] == '?' && is_ascii_name_start(p[2])) {
            q = section_end(p + 2, end, "?>", 2, &closed);
        } else if (end - p >= 3 && p[0] == '<' && p[1] == '!' && isupper((unsigned char)p[2])) {
            if (end - p >= 8 && memcmp(p, "<!ENTITY", 8) == 0) {
                const char *n0;

                q = p + 8;
                while (q < end && is_blank(*q))
                    q++;
                n0 = q;
                while (q < end && is_name_char((unsigned char)*q))
                    q++;
                if (q > n0 && *n0 != '%' && r->ndeclared < MAX_DECLARED) {
                    r->declared[r->ndeclared] = strndup(n0, (size_t)(q - n0));
                    if (r->declared[r->ndeclared] != NULL)
                        r->ndeclared++;
                }
            } else {
                q = p + 2;
            }
            /* to the declaration's '>', past quoted literals */
            closed = 0;
            while (q < end) {
                if (*q == '"' || *q == '\'') {
                    const char *lit_end = memchr(q + 1, *q, (size_t)(end - q - 1));

                    if (lit_end == NULL)
                        return;
                    q = lit_end + 1;
                } else if (*q == '>') {
                    closed = 1;
                    q++;
                    break;
                } else {
                    q++;
                }
            }
        } else {
            return; /* not a declaration: libxml2 stops here too */
        }
        if (q == NULL || !closed)
            return;
        p = q;
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
/* Parse the character reference at s[i] == '&' (decimal, hex, or an HTML
 * entity name); returns the index after its ';' and sets *v, or returns i
 * when there is none. */
static size_t numeric_ref(const char *s, size_t len, size_t i, unsigned long *v, int *named)
{
    size_t k = i + 2, d0;
    int hex;

    if (len - i >= 4 && isalpha((unsigned char)s[i + 1])) {
        char name[12];
        const htmlEntityDesc *ent;

        for (k = i + 1; k < len && k - i - 1 < sizeof(name) - 1 && isalnum((unsigned char)s[k]);
             k++)
            name[k - i - 1] = s[k];
        if (k >= len || s[k] != ';')
            return i;
        name[k - i - 1] = '\0';
        ent = htmlEntityLookup((const xmlChar *)name);
        if (ent == NULL)
            return i;
        *v = ent->value;
        *named = 1;
        return k + 1;
    }
    if (len - i < 4 || s[i + 1] != '#')
        return i;
    hex = s[k] == 'x' || s[k] == 'X';
    k += (size_t)hex;
    d0 = k;
    *v = 0;
    while (k < len && k - d0 < 8 &&
           (hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k]))) {
        unsigned char ch = (unsigned char)s[k];

        *v = *v * (hex ? 16 : 10) +
             (unsigned long)(isdigit(ch) ? ch - '0' : tolower(ch) - 'a' + 10);
        k++;
    }
    return k > d0 && k < len && s[k] == ';' ? k + 1 : i;
}

/* "&#226;&#128;&#166;": the UTF-8 bytes of one character written as
 * numeric references, the trace of UTF-8 read as Latin-1 and escaped.  It
 * is rewritten as the reference to the character (here &#8230;, an
 * ellipsis), as a person reads it.  Returns the index after the references,
 * or i when they are not that. */
static size_t repair_utf8_refs(struct strbuf *b, const char *s, size_t len, size_t i,
                               struct repair *r)
{
    unsigned char bytes[4];
    size_t k = i, need = 0, n = 0;
    int named = 0;
    unsigned long v;
    char num[16];
    unsigned cp;

    while (n < 4) {
        size_t next = numeric_ref(s, len, k, &v, &named);

        if (next == k || v < 0x80 || v > 0xFF)
            break;
        bytes[n++] = (unsigned char)v;
        k = next;
        if (n == 1)
            need = v >= 0xC2 && v <= 0xDF   ? 2
                   : v >= 0xE0 && v <= 0xEF ? 3
                   : v >= 0xF0 && v <= 0xF4 ? 4
                                            : 0;
        if (need == 0 || n == need)
            break;
    }
    if (need == 0 || n != need || !utf8_valid((const char *)bytes, n))
        return i;
    cp = bytes[0] & (0xFFu >> (need + 1));
    for (size_t j = 1; j < n; j++)
        cp = (cp << 6) | (bytes[j] & 0x3Fu);
    snprintf(num, sizeof(num), "&#%u;", cp);
    strbuf_adds(b, num);
    if (named && !r->external_dtd)
        r->fixed++; /* HTML entities are not XML's, as in repair_amp() */
    return k;
}

static size_t repair_amp(struct strbuf *b, const char *s, size_t len, size_t i,
                         struct repair *r)
{
    size_t j = i + 1;
    char num[16];

    /* the references XML itself defines, as escaped HTML is full of them */
    if (len - j >= 3 && (s[j] == 'l' || s[j] == 'g') && s[j + 1] == 't' && s[j + 2] == ';') {
        strbuf_add(b, s + i, 4);
        return i + 4;
    }
    if (len - j >= 4 && memcmp(s + j, "amp;", 4) == 0) {
        strbuf_add(b, s + i, 5);
        return i + 5;
    }
    {
        size_t k = repair_utf8_refs(b, s, len, i, r); /* "&#226;&#128;&#166;" */

        if (k != i)
            return k;
    }
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
            unsigned cp = v >= 0x80 && v <= 0x9F ? cp1252_char((unsigned char)v) : 0;

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
/* The bytes repair_xml() looks at; it copies runs of the others. */
static const unsigned char repair_stop[256] = {['&'] = 1, ['<'] = 1, [0xC2] = 1};

static void repair_xml(const char *s, size_t len, struct repair *r, struct strbuf *out)
{
    size_t i = 0;

    find_declarations(s, len, r);
    while (i < len && !out->oom) {
        size_t k = i;

        /* what needs no repair is copied in one piece: ordinary bytes, the
         * references XML defines, ordinary tags */
        for (;;) {
            while (k < len && !repair_stop[(unsigned char)s[k]])
                k++;
            if (k >= len)
                break;
            if (s[k] == '&' && len - k >= 4 && s[k + 2] == 't' && s[k + 3] == ';' &&
                (s[k + 1] == 'l' || s[k + 1] == 'g'))
                k += 4;
            else if (s[k] == '&' && len - k >= 5 && memcmp(s + k + 1, "amp;", 4) == 0)
                k += 5;
            else if (s[k] == '<' && len - k >= 2 &&
                     (isalpha((unsigned char)s[k + 1]) || s[k + 1] == '/'))
                k += 2;
            else
                break;
        }
        strbuf_add(out, s + i, k - i);
        i = k;
        if (i >= len)
            break;
        if (s[i] == '&') {
            i = repair_amp(out, s, len, i, r);
        } else if ((unsigned char)s[i] == 0xC2) {
            unsigned char c = i + 1 < len ? (unsigned char)s[i + 1] : 0;
            unsigned cp = c >= 0x80 && c <= 0x9F ? cp1252_char(c) : 0;

            if (cp != 0) {
                strbuf_add_utf8(out, cp);
                i += 2;
            } else {
                strbuf_add(out, s + i, 1);
                i++;
            }
        } else if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            const char *e;
            int closed;

            strbuf_add(out, s + i, 4);
            e = comment_end(s + i + 4, s + len, &closed, out);
            i = e != NULL ? (size_t)(e - s) : i + 4 + SECTION_MAX;
        } else if (len - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
            i = copy_through(out, s, len, i, "]]>");
        } else if (len - i >= 2 && s[i + 1] == '?') {
            i = copy_through(out, s, len, i, "?>");
        } else if (len - i >= 9 && memcmp(s + i, "<!DOCTYPE", 9) == 0) {
            const char *p = bytescan2(s + i, len - i, '>', '[');

            if (r->subset_end != 0 && i == r->doctype_at) {
                /* the real one, its subset read by find_declarations(): a
                 * ']' in a literal or comment there does not end it */
                strbuf_add(out, s + i, r->subset_end - i);
                i = r->subset_end;
            } else if (p != NULL && *p == '[')
                i = copy_through(out, s, len, i, "]");
            else
                i = copy_through(out, s, len, i, ">");
        } else {
            strbuf_add(out, s + i, 1);
            i++;
        }
    }
}

/* The first start tag of s[0..len) with more than FEED_MAX_ATTRIBUTES
 * attributes: returns its offset, or len when there is none.  Counts the
 * '=' outside quoted values between a '<' that opens a name and the '>'
 * that ends it.  Only the start tags libxml2 reads count (next_start_tag():
 * not in comments, CDATA sections, processing instructions), and a quoted
 * value ends at a '<' as it does for libxml2, so no tag libxml2 reads is
 * missed.  Each byte is read a bounded number of times, whatever the
 * markup. */
static size_t attributes_over(const char *s, size_t len)
{
    static const unsigned char stop[256] = {['>'] = 1, ['"'] = 1, ['\''] = 1, ['='] = 1,
                                            ['<'] = 1};
    struct markup_walk w = {s, s + len, 0, 0};
    const char *p = s, *end = s + len, *tag;

    while ((tag = next_start_tag(&w, p)) != NULL) {
        size_t n = 0;

        p = tag + 1;
        while (p < end) {
            while (p < end && !stop[(unsigned char)*p])
                p++;
            if (p >= end || *p == '>' || *p == '<')
                break; /* the tag ends (an unclosed one at the next '<') */
            if (*p == '=') {
                if (++n > FEED_MAX_ATTRIBUTES)
                    return (size_t)(tag - s);
                p++;
            } else { /* a quoted value, to its quote or a '<' */
                const char *q = bytescan2(p + 1, (size_t)(end - p - 1), *p, '<');

                p = q == NULL ? end : *q == '<' ? q : q + 1;
            }
        }
    }
    return len;
}

/* Where to cut a document that has more entries than a feed_doc keeps:
 * before the start tag of entry FEED_MAX_ENTRIES + 1, so that libxml2
 * builds the tree of what is kept, not of a million entries (its recovery
 * closes what the cut leaves open).  Counts the "<item" and "<entry" start
 * tags libxml2 reads (next_start_tag(): one in a CDATA section or a comment
 * does not count; in a document with an internal DTD subset every one
 * does, an over-estimate).  Returns len when there is nothing to cut.
 * Documents under 100 KB cannot hold that many entries and are not
 * scanned. */
static size_t entries_cut(const char *s, size_t len)
{
    struct markup_walk w = {s, s + len, 0, 0};
    const char *p = s, *end = s + len;
    size_t n = 0;

    if (len < 100u * 1024u)
        return len;
    while ((p = next_start_tag(&w, p)) != NULL) {
        size_t rest = (size_t)(end - p);

        if ((rest > 5 && memcmp(p, "<item", 5) == 0 && memchr(" \t\r\n>/", p[5], 6) != NULL) ||
            (rest > 6 && memcmp(p, "<entry", 6) == 0 && memchr(" \t\r\n>/", p[6], 6) != NULL)) {
            if (++n > FEED_MAX_ENTRIES)
                return (size_t)(p - s);
        }
        p++;
    }
    return len;
}

/* ------------------------------------------------------------------------ */

int feed_parse(const char *buf, size_t len, const char *base_url, const char *content_type,
               struct feed_doc **out, na_error *err)
{
    struct feed_doc *doc = NULL;
    struct decoded dec = {0};
    struct repair rep = {0};
    struct strbuf fixed = {0};
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
    if (decode(buf, len, content_type, is_json, doc, &dec) < 0) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    doc->encoding = strdup(dec.encoding);
    if (doc->encoding == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    if (memchr(dec.text, '\0', dec.len) != NULL) {
        /* a stray NUL (a truncated write, a bad proxy) is dropped; a text
         * with many is no text at all */
        size_t first = (size_t)((const char *)memchr(dec.text, '\0', dec.len) - dec.text);
        size_t nul = 0, w = 0;
        char reason[96];

        for (size_t r = 0; r < dec.len; r++) {
            if (dec.text[r] == '\0')
                nul++;
            else
                dec.text[w++] = dec.text[r];
        }
        if (nul > dec.len / 16) {
            na_error_set(err, 0, 0,
                         "not a feed: binary data (%zu NUL bytes, the first at offset %zu)",
                         nul, first);
            goto done;
        }
        dec.len = w;
        dec.text[w] = '\0';
        snprintf(reason, sizeof(reason), "%zu NUL bytes removed (the first at offset %zu)", nul,
                 first);
        if (feed_doc_set_bozo(doc, reason) < 0) {
            na_error_set(err, 0, 0, "out of memory");
            goto done;
        }
    }
    if (is_json) {
        rc = feed_jsonfeed_parse(dec.text, dec.len, doc, err);
        goto done;
    }
    {
        size_t at = attributes_over(dec.text, dec.len);

        if (at < dec.len) {
            size_t line = 1;

            for (size_t k = 0; k < at; k++)
                line += dec.text[k] == '\n';
            na_error_set(err, (int)(line < INT_MAX ? line : INT_MAX), 0,
                         "line %zu (byte %zu): a start tag with more than %u attributes: "
                         "refused (no feed needs so many; libxml2 takes time quadratic "
                         "in their number)",
                         line, at, FEED_MAX_ATTRIBUTES);
            goto done;
        }
    }
    /* the repaired text is about as long as the original: one allocation */
    fixed.p = dec.len < SIZE_MAX / 2 ? malloc(dec.len + dec.len / 8 + 64) : NULL;
    if (fixed.p != NULL) {
        fixed.cap = dec.len + dec.len / 8 + 64;
        fixed.p[0] = '\0';
    }
    repair_xml(dec.text, dec.len, &rep, &fixed);
    if (fixed.oom) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    if (rep.fixed > 0 && feed_doc_set_bozo(doc, "undefined entity or bare '&'") < 0) {
        na_error_set(err, 0, 0, "out of memory");
        goto done;
    }
    {
        size_t cut = entries_cut(fixed.p, fixed.len);

        if (cut < fixed.len) {
            char reason[80];

            snprintf(reason, sizeof(reason), "more than %u entries: the rest are ignored",
                     FEED_MAX_ENTRIES);
            if (feed_doc_set_bozo(doc, doc->bozo_reason == NULL ? reason : NULL) < 0) {
                na_error_set(err, 0, 0, "out of memory");
                goto done;
            }
            fixed.len = cut;
            fixed.p[cut] = '\0';
        }
    }
    rc = feed_xml_parse(fixed.p, fixed.len, base_url, doc, err);

done:
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

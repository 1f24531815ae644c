/*
 * render.c - webhook bodies, signatures and e-mail messages (see render.h).
 *
 * JSON bodies are built with jansson, never by hand; base64 and HMAC come
 * from OpenSSL's libcrypto.  Quoted-printable (RFC 2045 6.7) and RFC 2047
 * encoded-words are the only encoders written here: libcurl has none for a
 * plain single-part message.
 */
#include "render.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "strbuf.h"

#define RENDER_EW_BYTES 45   /* raw bytes per encoded-word: 60 base64 chars */
#define RENDER_QP_LINE 76    /* RFC 2045 line limit */
#define RENDER_SUBJECT_MAX 300 /* bytes of title in a subject line */

/* C0, DEL, C1 and the bidi embedding/override/isolate marks. */
static int render_is_control(utf8proc_int32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static int render_is_space(utf8proc_int32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v';
}

/* s as valid UTF-8 without control characters, whitespace runs folded to
 * one space and trimmed.  Caller frees; NULL when out of memory. */
static char *render_clean(const char *s)
{
    struct strbuf b = STRBUF_INIT;
    size_t len = strlen(s), i = 0;
    int space = 0;

    strbuf_add(&b, "", 0);
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);

        if (n <= 0) {
            n = 1;
            cp = 0xfffd;
        }
        if (render_is_space(cp)) {
            space = b.len > 0;
        } else if (!render_is_control(cp)) {
            if (space)
                strbuf_add(&b, " ", 1);
            space = 0;
            if (cp == 0xfffd && n == 1)
                strbuf_add(&b, "\xef\xbf\xbd", 3);
            else
                strbuf_add(&b, s + i, (size_t)n);
        }
        i += (size_t)n;
    }
    return strbuf_take(&b);
}

/* A cleaned copy of the string at obj.key (or of dflt). */
static char *render_field(json_t *obj, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(obj, key));

    return render_clean(v != NULL && v[0] != '\0' ? v : dflt);
}

void render_alert_clear(struct render_alert *a)
{
    free(a->rule_id);
    free(a->rule_name);
    free(a->title);
    free(a->link);
    free(a->feed_title);
    free(a->published);
    free(a->text);
    memset(a, 0, sizeof(*a));
}

int render_parse(const char *body, size_t len, struct render_alert *out)
{
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *rule, *item, *matched, *seq;
    const char *snippet;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return -1;
    seq = json_object_get(root, "seq");
    if (!json_is_object(root) || !json_is_integer(seq)) {
        json_decref(root);
        return -1;
    }
    out->seq = json_integer_value(seq);
    rule = json_object_get(root, "rule");
    item = json_object_get(root, "item");
    matched = json_object_get(root, "matched");
    snippet = json_string_value(json_object_get(matched, "snippet"));
    out->rule_id = render_field(rule, "id", "");
    out->rule_name = render_field(rule, "name", json_string_value(json_object_get(rule, "id"))
                                                    ? json_string_value(json_object_get(rule, "id"))
                                                    : "");
    out->title = render_field(item, "title", "(no title)");
    out->link = render_field(item, "link", "");
    out->feed_title = render_field(item, "feed_title",
                                   json_string_value(json_object_get(item, "feed"))
                                       ? json_string_value(json_object_get(item, "feed"))
                                       : "");
    out->published = render_field(item, "published", "");
    out->text = snippet != NULL && snippet[0] != '\0' ? render_clean(snippet)
                                                      : render_field(item, "summary", "");
    json_decref(root);
    if (out->rule_id == NULL || out->rule_name == NULL || out->title == NULL ||
        out->link == NULL || out->feed_title == NULL || out->published == NULL ||
        out->text == NULL) {
        render_alert_clear(out);
        return -1;
    }
    /* only web links: a javascript: or data: link is dropped */
    if (strncmp(out->link, "http://", 7) != 0 && strncmp(out->link, "https://", 8) != 0)
        out->link[0] = '\0';
    return 0;
}

/* --- webhook bodies ------------------------------------------------------ */

/* Escape &, < and > (all Slack mrkdwn needs), and " too when `quote` is set
 * (HTML attribute values in Matrix's formatted_body). */
static void render_escape(struct strbuf *b, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            strbuf_adds(b, "&amp;");
        else if (*s == '<')
            strbuf_adds(b, "&lt;");
        else if (*s == '>')
            strbuf_adds(b, "&gt;");
        else if (*s == '"' && quote)
            strbuf_adds(b, "&quot;");
        else
            strbuf_add(b, s, 1);
    }
}

static void render_slack_escape(struct strbuf *b, const char *s)
{
    render_escape(b, s, 0);
}

static void render_html_escape(struct strbuf *b, const char *s)
{
    render_escape(b, s, 1);
}

/* The plain text of a chat message: title, link, text, rule. */
static char *render_plain(const struct render_alert *a)
{
    struct strbuf b = STRBUF_INIT;

    strbuf_adds(&b, a->title);
    if (a->link[0] != '\0') {
        strbuf_adds(&b, "\n");
        strbuf_adds(&b, a->link);
    }
    if (a->text[0] != '\0') {
        strbuf_adds(&b, "\n");
        strbuf_adds(&b, a->text);
    }
    strbuf_adds(&b, "\nrule: ");
    strbuf_adds(&b, a->rule_name);
    if (a->feed_title[0] != '\0') {
        strbuf_adds(&b, " \xc2\xb7 ");
        strbuf_adds(&b, a->feed_title);
    }
    return strbuf_take(&b);
}

static char *render_slack(const struct render_alert *a)
{
    struct strbuf b = STRBUF_INIT;

    strbuf_adds(&b, "*");
    if (a->link[0] != '\0' && strpbrk(a->link, "|<> ") == NULL) {
        strbuf_adds(&b, "<");
        strbuf_adds(&b, a->link);
        strbuf_adds(&b, "|");
        render_slack_escape(&b, a->title);
        strbuf_adds(&b, ">");
    } else {
        render_slack_escape(&b, a->title);
    }
    strbuf_adds(&b, "*");
    if (a->text[0] != '\0') {
        strbuf_adds(&b, "\n");
        render_slack_escape(&b, a->text);
    }
    strbuf_adds(&b, "\n_rule: ");
    render_slack_escape(&b, a->rule_name);
    if (a->feed_title[0] != '\0') {
        strbuf_adds(&b, " \xc2\xb7 ");
        render_slack_escape(&b, a->feed_title);
    }
    strbuf_adds(&b, "_");
    return strbuf_take(&b);
}

/* s cut to at most max characters (code points), at a boundary. */
static void render_cut_chars(char *s, size_t max)
{
    size_t i = 0, n = 0;

    while (s[i] != '\0') {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (n == max) {
                s[i] = '\0';
                return;
            }
            n++;
        }
        i++;
    }
}

static char *render_matrix_html(const struct render_alert *a)
{
    struct strbuf b = STRBUF_INIT;

    if (a->link[0] != '\0') {
        strbuf_adds(&b, "<a href=\"");
        render_html_escape(&b, a->link);
        strbuf_adds(&b, "\"><b>");
        render_html_escape(&b, a->title);
        strbuf_adds(&b, "</b></a>");
    } else {
        strbuf_adds(&b, "<b>");
        render_html_escape(&b, a->title);
        strbuf_adds(&b, "</b>");
    }
    if (a->text[0] != '\0') {
        strbuf_adds(&b, "<br>");
        render_html_escape(&b, a->text);
    }
    strbuf_adds(&b, "<br><i>rule: ");
    render_html_escape(&b, a->rule_name);
    strbuf_adds(&b, "</i>");
    return strbuf_take(&b);
}

/* s as one header value: ASCII as is, else RFC 2047 encoded-words (UTF-8,
 * base64) separated by `sep`. */
static void render_encoded_words(struct strbuf *b, const char *s, const char *sep)
{
    size_t len = strlen(s), i = 0;
    int ascii = 1;

    for (size_t k = 0; k < len; k++) {
        if ((unsigned char)s[k] >= 0x80 || (s[k] == '=' && s[k + 1] == '?'))
            ascii = 0;
    }
    if (ascii) {
        strbuf_add(b, s, len);
        return;
    }
    while (i < len) {
        unsigned char out[4 * ((RENDER_EW_BYTES + 2) / 3) + 1];
        size_t n = len - i < RENDER_EW_BYTES ? len - i : RENDER_EW_BYTES;
        int olen;

        while (n > 0 && i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
            n--; /* never split a character */
        if (n == 0)
            n = 1;
        olen = EVP_EncodeBlock(out, (const unsigned char *)s + i, (int)n);
        if (i > 0)
            strbuf_adds(b, sep);
        strbuf_adds(b, "=?UTF-8?B?");
        strbuf_add(b, (const char *)out, olen > 0 ? (size_t)olen : 0);
        strbuf_adds(b, "?=");
        i += n;
    }
}

static int render_add_header(struct render_http *h, const char *name, const char *value)
{
    struct strbuf b = STRBUF_INIT;

    if (h->nheaders == RENDER_MAX_HEADERS)
        return 0;
    strbuf_adds(&b, name);
    strbuf_adds(&b, ": ");
    render_encoded_words(&b, value, " ");
    if ((h->headers[h->nheaders] = strbuf_take(&b)) == NULL)
        return -1;
    h->nheaders++;
    return 0;
}

void render_http_clear(struct render_http *h)
{
    free(h->body);
    for (size_t i = 0; i < h->nheaders; i++)
        free(h->headers[i]);
    memset(h, 0, sizeof(*h));
}

/* h->body = compact JSON of obj (stolen). */
static int render_json_body(struct render_http *h, json_t *obj)
{
    if (obj == NULL)
        return -1;
    h->body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (h->body == NULL)
        return -1;
    h->len = strlen(h->body);
    h->content_type = "application/json";
    return 0;
}

int render_webhook(enum sink_template t, const char *body, size_t len,
                   const struct render_alert *a, struct render_http *out)
{
    char *text = NULL, *html = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    switch (t) {
    case SINK_TEMPLATE_JSON:
        if ((out->body = malloc(len + 1)) != NULL) {
            memcpy(out->body, body, len);
            out->body[len] = '\0';
            out->len = len;
            out->content_type = "application/json";
            rc = 0;
        }
        break;
    case SINK_TEMPLATE_SLACK:
        if ((text = render_slack(a)) != NULL)
            rc = render_json_body(out, json_pack("{s:s, s:b}", "text", text, "unfurl_links", 0));
        break;
    case SINK_TEMPLATE_DISCORD:
        if ((text = render_plain(a)) != NULL) {
            render_cut_chars(text, RENDER_DISCORD_MAX);
            rc = render_json_body(out, json_pack("{s:s, s:{s:[]}}", "content", text,
                                                 "allowed_mentions", "parse"));
        }
        break;
    case SINK_TEMPLATE_MATRIX:
        if ((text = render_plain(a)) != NULL && (html = render_matrix_html(a)) != NULL)
            rc = render_json_body(out, json_pack("{s:s, s:s, s:s, s:s}", "msgtype", "m.text",
                                                 "body", text, "format",
                                                 "org.matrix.custom.html", "formatted_body",
                                                 html));
        break;
    case SINK_TEMPLATE_NTFY: {
        struct strbuf b = STRBUF_INIT;

        strbuf_adds(&b, a->text[0] != '\0' ? a->text : a->title);
        strbuf_adds(&b, "\nrule: ");
        strbuf_adds(&b, a->rule_name);
        if ((out->body = strbuf_take(&b)) == NULL)
            break;
        out->len = strlen(out->body);
        out->content_type = "text/plain; charset=utf-8";
        rc = render_add_header(out, "Title", a->title);
        if (rc == 0 && a->link[0] != '\0')
            rc = render_add_header(out, "Click", a->link);
        if (rc == 0 && a->rule_id[0] != '\0')
            rc = render_add_header(out, "Tags", a->rule_id);
        break;
    }
    }
    free(text);
    free(html);
    if (rc != 0)
        render_http_clear(out);
    return rc;
}

char *render_url(const char *url, int64_t seq)
{
    struct strbuf b = STRBUF_INIT;
    char num[32];
    const char *p;

    snprintf(num, sizeof(num), "%" PRId64, seq);
    while ((p = strstr(url, "{seq}")) != NULL) {
        strbuf_add(&b, url, (size_t)(p - url));
        strbuf_adds(&b, num);
        url = p + 5;
    }
    strbuf_adds(&b, url);
    return strbuf_take(&b);
}

int render_hmac_hex(const char *key, const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (HMAC(EVP_sha256(), key, (int)strlen(key), data, len, md, &mdlen) == NULL ||
        mdlen != 32)
        return -1;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* --- e-mail ----------------------------------------------------------------- */

/* Quoted-printable of text (LF line ends) into b with CRLF line ends. */
static void render_qp(struct strbuf *b, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        char enc[4];
        size_t n;

        if (*p == '\n') {
            strbuf_adds(b, "\r\n");
            col = 0;
            continue;
        }
        if ((*p >= 33 && *p <= 126 && *p != '=') ||
            ((*p == ' ' || *p == '\t') && p[1] != '\n' && p[1] != '\0')) {
            enc[0] = (char)*p;
            n = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            n = 3;
        }
        if (col + n > RENDER_QP_LINE - 1) {
            strbuf_adds(b, "=\r\n"); /* soft line break */
            col = 0;
        }
        strbuf_add(b, enc, n);
        col += n;
    }
    if (col > 0)
        strbuf_adds(b, "\r\n");
}

/* The domain of an address, reduced to safe characters. */
static void render_domain(const char *from, char *out, size_t size)
{
    const char *at = strrchr(from, '@');
    size_t n = 0;

    if (at != NULL) {
        for (const char *p = at + 1; *p != '\0' && *p != '>' && n + 1 < size; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
                out[n++] = *p;
        }
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "newsalert.invalid");
}

char *render_email(const struct sink_conf *c, const struct render_alert *a, time_t now,
                   size_t *len)
{
    struct strbuf b = STRBUF_INIT, text = STRBUF_INIT, subj = STRBUF_INIT;
    char date[64], domain[256], line[512];
    struct tm tm;
    char *body, *subject, *msg;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    render_domain(c->from, domain, sizeof(domain));

    strbuf_adds(&subj, "[newsalert] ");
    strbuf_adds(&subj, a->rule_name);
    strbuf_adds(&subj, ": ");
    strbuf_add(&subj, a->title, strlen(a->title));
    if ((subject = strbuf_take(&subj)) == NULL)
        return NULL;
    if (strlen(subject) > RENDER_SUBJECT_MAX) {
        size_t cut = RENDER_SUBJECT_MAX;

        while (cut > 0 && ((unsigned char)subject[cut] & 0xc0) == 0x80)
            cut--;
        subject[cut] = '\0';
    }

    strbuf_adds(&text, a->title);
    strbuf_adds(&text, "\n");
    if (a->link[0] != '\0') {
        strbuf_adds(&text, a->link);
        strbuf_adds(&text, "\n");
    }
    if (a->feed_title[0] != '\0' || a->published[0] != '\0') {
        strbuf_adds(&text, a->feed_title);
        if (a->feed_title[0] != '\0' && a->published[0] != '\0')
            strbuf_adds(&text, " \xc2\xb7 ");
        strbuf_adds(&text, a->published);
        strbuf_adds(&text, "\n");
    }
    if (a->text[0] != '\0') {
        strbuf_adds(&text, "\n");
        strbuf_adds(&text, a->text);
        strbuf_adds(&text, "\n");
    }
    strbuf_adds(&text, "\nRule: ");
    strbuf_adds(&text, a->rule_name);
    if (strcmp(a->rule_name, a->rule_id) != 0) {
        strbuf_adds(&text, " (");
        strbuf_adds(&text, a->rule_id);
        strbuf_adds(&text, ")");
    }
    snprintf(line, sizeof(line), "\nAlert: %" PRId64 "\n", a->seq);
    strbuf_adds(&text, line);
    if ((body = strbuf_take(&text)) == NULL) {
        free(subject);
        return NULL;
    }

    strbuf_adds(&b, "Date: ");
    strbuf_adds(&b, date);
    snprintf(line, sizeof(line), "\r\nMessage-ID: <newsalert.%" PRId64 "@%s>\r\n", a->seq,
             domain);
    strbuf_adds(&b, line);
    strbuf_adds(&b, "From: <");
    strbuf_adds(&b, c->from);
    strbuf_adds(&b, ">\r\nTo: ");
    for (size_t i = 0; i < c->nto; i++) {
        strbuf_adds(&b, i > 0 ? ",\r\n <" : "<");
        strbuf_adds(&b, c->to[i]);
        strbuf_adds(&b, ">");
    }
    strbuf_adds(&b, "\r\nSubject: ");
    render_encoded_words(&b, subject, "\r\n ");
    snprintf(line, sizeof(line),
             "\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "X-Newsalert-Seq: %" PRId64 "\r\n"
             "Auto-Submitted: auto-generated\r\n\r\n",
             a->seq);
    strbuf_adds(&b, line);
    render_qp(&b, body);
    free(body);
    free(subject);
    if ((msg = strbuf_take(&b)) != NULL)
        *len = strlen(msg);
    return msg;
}

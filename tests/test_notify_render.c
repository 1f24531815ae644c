/*
 * test_notify_render.c - unit tests for services/notifier/render.c: reading
 * untrusted alert bodies, the webhook bodies of each template, the {seq}
 * URL, the HMAC-SHA256 signature (RFC 4231 vectors) and the e-mail message
 * (headers, RFC 2047 subject, quoted-printable body decoded back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "render.h"

static const char alert_body[] =
    "{\"v\":1,\"seq\":42,\"ts\":\"2026-11-25T17:40:00Z\","
    "\"rule\":{\"id\":\"quake\",\"name\":\"Earthquakes\"},"
    "\"item\":{\"id\":\"i1\",\"title\":\"Quake <M7> & \\u00e9 \\u2026\\r\\nBcc: x@evil\","
    "\"link\":\"https://example.org/a?b=1&c=2\",\"feed\":\"https://example.org/feed\","
    "\"feed_title\":\"Example\",\"published\":\"2026-11-25T17:30:00Z\","
    "\"summary\":\"the summary\"},"
    "\"matched\":{\"snippet\":\"a strong \\u001b[31mquake\\u001b[0m hit\"}}";

static struct render_alert parse_ok(const char *body)
{
    struct render_alert a;

    assert_int_equal(render_parse(body, strlen(body), &a), 0);
    return a;
}

static void test_parse(void **state)
{
    struct render_alert a = parse_ok(alert_body);

    (void)state;
    assert_int_equal(a.seq, 42);
    assert_string_equal(a.rule_id, "quake");
    assert_string_equal(a.rule_name, "Earthquakes");
    /* CR/LF folded: no header can be injected; controls removed */
    assert_string_equal(a.title, "Quake <M7> & \xc3\xa9 \xe2\x80\xa6 Bcc: x@evil");
    assert_string_equal(a.link, "https://example.org/a?b=1&c=2");
    assert_string_equal(a.feed_title, "Example");
    assert_string_equal(a.text, "a strong [31mquake[0m hit"); /* snippet beats summary */
    render_alert_clear(&a);

    a = parse_ok("{\"seq\":7,\"rule\":{\"id\":\"r\"},\"item\":{\"link\":\"javascript:alert(1)\","
                 "\"summary\":\"s\",\"feed\":\"https://f\"}}");
    assert_string_equal(a.rule_name, "r");
    assert_string_equal(a.title, "(no title)");
    assert_string_equal(a.link, ""); /* not a web link */
    assert_string_equal(a.text, "s");
    assert_string_equal(a.feed_title, "https://f");
    render_alert_clear(&a);

    assert_int_equal(render_parse("[1]", 3, &a), -1);
    assert_int_equal(render_parse("{\"seq\":\"1\"}", 11, &a), -1);
    assert_int_equal(render_parse("{\"seq\":1", 8, &a), -1);
    assert_int_equal(render_parse("{\"seq\":1,\"seq\":2}", 17, &a), -1);
}

static json_t *body_json(const struct render_http *h)
{
    json_t *j = json_loadb(h->body, h->len, 0, NULL);

    assert_non_null(j);
    assert_string_equal(h->content_type, "application/json");
    return j;
}

static void test_templates(void **state)
{
    struct render_alert a = parse_ok(alert_body);
    struct render_http h;
    const char *text;
    json_t *j;

    (void)state;
    /* json: the alert as it came */
    assert_int_equal(render_webhook(SINK_TEMPLATE_JSON, alert_body, strlen(alert_body), &a, &h),
                     0);
    assert_int_equal(h.len, strlen(alert_body));
    assert_memory_equal(h.body, alert_body, h.len);
    assert_int_equal(h.nheaders, 0);
    render_http_clear(&h);

    /* slack: {"text"} in mrkdwn, <link|title>, & < > escaped */
    assert_int_equal(render_webhook(SINK_TEMPLATE_SLACK, alert_body, strlen(alert_body), &a, &h),
                     0);
    j = body_json(&h);
    text = json_string_value(json_object_get(j, "text"));
    assert_non_null(text);
    assert_non_null(strstr(text, "*<https://example.org/a?b=1&c=2|Quake &lt;M7&gt; &amp; "));
    assert_non_null(strstr(text, "a strong"));
    assert_non_null(strstr(text, "_rule: Earthquakes"));
    json_decref(j);
    render_http_clear(&h);

    /* discord: {"content"}, mentions disabled */
    assert_int_equal(
        render_webhook(SINK_TEMPLATE_DISCORD, alert_body, strlen(alert_body), &a, &h), 0);
    j = body_json(&h);
    text = json_string_value(json_object_get(j, "content"));
    assert_non_null(text);
    assert_non_null(strstr(text, "Quake <M7>"));
    assert_non_null(strstr(text, "https://example.org/a?b=1&c=2"));
    assert_true(json_is_array(json_object_get(json_object_get(j, "allowed_mentions"), "parse")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "allowed_mentions"),
                                                     "parse")), 0);
    json_decref(j);
    render_http_clear(&h);

    /* matrix: an m.text event with an escaped HTML body */
    assert_int_equal(
        render_webhook(SINK_TEMPLATE_MATRIX, alert_body, strlen(alert_body), &a, &h), 0);
    j = body_json(&h);
    assert_string_equal(json_string_value(json_object_get(j, "msgtype")), "m.text");
    assert_string_equal(json_string_value(json_object_get(j, "format")),
                        "org.matrix.custom.html");
    assert_non_null(strstr(json_string_value(json_object_get(j, "body")), "Quake <M7>"));
    assert_non_null(strstr(json_string_value(json_object_get(j, "formatted_body")),
                           "<a href=\"https://example.org/a?b=1&amp;c=2\"><b>Quake &lt;M7&gt; "
                           "&amp; "));
    json_decref(j);
    render_http_clear(&h);

    /* ntfy: plain text, Title (RFC 2047: not ASCII), Click, Tags */
    assert_int_equal(render_webhook(SINK_TEMPLATE_NTFY, alert_body, strlen(alert_body), &a, &h),
                     0);
    assert_string_equal(h.content_type, "text/plain; charset=utf-8");
    assert_string_equal(h.body, "a strong [31mquake[0m hit\nrule: Earthquakes");
    assert_int_equal(h.nheaders, 3);
    assert_true(strncmp(h.headers[0], "Title: =?UTF-8?B?", 17) == 0);
    {
        /* decode the encoded-words back to the title */
        char out[512] = "";
        const char *p = h.headers[0] + 7;

        while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
            const char *e = strstr(p + 10, "?=");
            unsigned char dec[128];
            int n;

            assert_non_null(e);
            assert_true(e - p <= 75); /* RFC 2047 limit */
            n = EVP_DecodeBlock(dec, (const unsigned char *)p + 10, (int)(e - p - 10));
            assert_true(n > 0);
            while (n > 0 && dec[n - 1] == '\0' && (e[-1] == '='))
                n--; /* padding */
            strncat(out, (const char *)dec, (size_t)n);
            p = e + 2;
        }
        assert_string_equal(out, a.title);
    }
    assert_string_equal(h.headers[1], "Click: https://example.org/a?b=1&c=2");
    assert_string_equal(h.headers[2], "Tags: quake");
    render_http_clear(&h);
    render_alert_clear(&a);
}

static void test_discord_cut(void **state)
{
    char *body = malloc(20000);
    struct render_alert a;
    struct render_http h;
    size_t n = 0, chars = 0;
    json_t *j;
    const char *text;

    (void)state;
    n += (size_t)snprintf(body, 20000, "{\"seq\":1,\"rule\":{\"id\":\"r\"},\"item\":{\"summary\":\"");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(body + n, 20000 - n, "\\u00e9");
    snprintf(body + n, 20000 - n, "\"}}");
    a = parse_ok(body);
    assert_int_equal(render_webhook(SINK_TEMPLATE_DISCORD, body, strlen(body), &a, &h), 0);
    j = body_json(&h);
    text = json_string_value(json_object_get(j, "content"));
    for (const char *p = text; *p != '\0'; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    assert_int_equal(chars, RENDER_DISCORD_MAX);
    json_decref(j);
    render_http_clear(&h);
    render_alert_clear(&a);
    free(body);
}

static void test_url_and_hmac(void **state)
{
    char *u, hex[65];

    (void)state;
    u = render_url("https://m/send/txn-{seq}?x={seq}", 9001);
    assert_string_equal(u, "https://m/send/txn-9001?x=9001");
    free(u);
    u = render_url("http://plain/", 1);
    assert_string_equal(u, "http://plain/");
    free(u);
    /* RFC 4231 test case 2 */
    assert_int_equal(render_hmac_hex("Jefe", "what do ya want for nothing?", 28, hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* Decode quoted-printable (CRLF lines) into out. */
static void qp_decode(const char *in, char *out, size_t size)
{
    size_t n = 0;

    while (*in != '\0' && n + 1 < size) {
        if (in[0] == '=' && in[1] == '\r' && in[2] == '\n') {
            in += 3;
        } else if (in[0] == '=') {
            unsigned v;

            assert_int_equal(sscanf(in + 1, "%2X", &v), 1);
            out[n++] = (char)v;
            in += 3;
        } else if (in[0] == '\r' && in[1] == '\n') {
            out[n++] = '\n';
            in += 2;
        } else {
            out[n++] = *in++;
        }
    }
    out[n] = '\0';
}

static void test_email(void **state)
{
    static char *to[] = {(char *)"a@example.org", (char *)"b@example.org", NULL};
    struct sink_conf c;
    struct render_alert a = parse_ok(alert_body);
    char *msg, *body, decoded[4096];
    const char *line;
    size_t len;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.type = SINK_EMAIL;
    c.from = (char *)"newsalert@alerts.example.net";
    c.to = to;
    c.nto = 2;
    msg = render_email(&c, &a, 1764092400, &len); /* 2025-11-25 17:40:00 UTC */
    assert_non_null(msg);
    assert_int_equal(len, strlen(msg));
    body = strstr(msg, "\r\n\r\n");
    assert_non_null(body);
    *body = '\0';
    body += 4;
    assert_non_null(strstr(msg, "Date: Tue, 25 Nov 2025 17:40:00 +0000\r\n"));
    assert_non_null(strstr(msg, "Message-ID: <newsalert.42@alerts.example.net>\r\n"));
    assert_non_null(strstr(msg, "From: <newsalert@alerts.example.net>\r\n"));
    assert_non_null(strstr(msg, "To: <a@example.org>,\r\n <b@example.org>\r\n"));
    assert_non_null(strstr(msg, "\r\nSubject: =?UTF-8?B?"));
    assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
    assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
    assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
    /* the title's CR/LF did not become a header of its own */
    assert_null(strstr(msg, "\r\nBcc:"));
    /* every header and body line is CRLF-terminated and short */
    for (line = body; *line != '\0';) {
        const char *e = strstr(line, "\r\n");

        assert_non_null(e);
        assert_true(e - line <= 76);
        assert_null(memchr(line, '\n', (size_t)(e - line)));
        line = e + 2;
    }
    qp_decode(body, decoded, sizeof(decoded));
    assert_non_null(strstr(decoded, a.title));
    assert_non_null(strstr(decoded, "\nhttps://example.org/a?b=1&c=2\n"));
    assert_non_null(strstr(decoded, "\na strong [31mquake[0m hit\n"));
    assert_non_null(strstr(decoded, "\nRule: Earthquakes (quake)\n"));
    assert_non_null(strstr(decoded, "Example \xc2\xb7 2026-11-25T17:30:00Z"));
    free(msg);
    render_alert_clear(&a);

    /* an ASCII subject stays readable */
    a = parse_ok("{\"seq\":3,\"rule\":{\"id\":\"r\",\"name\":\"R\"},\"item\":{\"title\":\"Plain\"}}");
    c.nto = 1;
    c.from = (char *)"bad-from";
    msg = render_email(&c, &a, 0, &len);
    assert_non_null(strstr(msg, "\r\nSubject: [newsalert] R: Plain\r\n"));
    assert_non_null(strstr(msg, "Message-ID: <newsalert.3@newsalert.invalid>\r\n"));
    assert_non_null(strstr(msg, "To: <a@example.org>\r\n"));
    free(msg);
    render_alert_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_discord_cut),
        cmocka_unit_test(test_url_and_hmac),
        cmocka_unit_test(test_email),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

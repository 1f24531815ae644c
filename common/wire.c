/*
 * wire.c - the ZeroMQ framing of items and alerts (see wire.h).
 *
 * Senders check what they send against the same limits receivers enforce.
 * Receivers read every part through zmq_msg_t, so a part is never truncated
 * silently, and consume a bad message entirely (all remaining parts drained)
 * before reporting it, so the next message starts on a clean boundary.
 * Alert bodies are checked with jansson here (JSON object, `v` == 1, a
 * non-negative integer `seq`, `rule.id` equal to the topic when present);
 * item bodies go through item_from_json().
 */
#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

/* Receive and discard every remaining part of the current message.  Returns
 * how many parts were discarded.  ZeroMQ delivers multi-part messages
 * atomically, so once the first part is in, the rest are already here and
 * blocking receives return at once. */
static size_t wire_drain(void *sock)
{
    size_t n = 0;
    int more = 0;
    size_t more_size = sizeof(more);
    zmq_msg_t part;

    for (;;) {
        if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_size) != 0 || !more)
            break;
        zmq_msg_init(&part);
        while (zmq_msg_recv(&part, sock, 0) < 0) {
            if (errno != EINTR) {
                zmq_msg_close(&part);
                return n;
            }
        }
        n++;
        zmq_msg_close(&part);
        more_size = sizeof(more);
    }
    return n;
}

static int wire_more(void *sock)
{
    int more = 0;
    size_t more_size = sizeof(more);

    if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_size) != 0)
        return 0;
    return more != 0;
}

/* Receive one part into *part (initialised here).  Returns 0, or -2 with
 * errno from zmq_msg_recv. */
static int wire_recv_part(void *sock, zmq_msg_t *part, int flags)
{
    int saved;

    zmq_msg_init(part);
    if (zmq_msg_recv(part, sock, flags) < 0) {
        saved = errno;
        zmq_msg_close(part);
        errno = saved;
        return -2;
    }
    return 0;
}

/* Is s[0..len) well-formed UTF-8 without NUL bytes (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF)?  Returns the byte offset of the
 * first bad byte, or len when all is well. */
static size_t wire_utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;

        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return len;
}

/* A NUL-terminated copy of a part, or NULL when out of memory. */
static char *wire_copy(zmq_msg_t *part)
{
    size_t n = zmq_msg_size(part);
    char *s = malloc(n + 1);

    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, zmq_msg_data(part), n);
    s[n] = '\0';
    return s;
}

int wire_send_item(void *sock, const struct item *it, int flags)
{
    char *json = item_to_json(it);
    size_t len;
    int rc, saved;

    if (json == NULL) {
        errno = ENOMEM;
        return -1;
    }
    len = strlen(json);
    if (len > WIRE_MAX_ITEM) {
        free(json);
        errno = EMSGSIZE;
        return -1;
    }
    rc = zmq_send(sock, json, len, flags);
    saved = errno;
    free(json);
    errno = saved;
    return rc < 0 ? -1 : 0;
}

int wire_recv_item(void *sock, int flags, struct item **out, na_error *err)
{
    zmq_msg_t part;
    size_t size, extra;
    int rc;

    *out = NULL;
    if (wire_recv_part(sock, &part, flags) != 0)
        return -2;
    if (wire_more(sock)) {
        zmq_msg_close(&part);
        extra = wire_drain(sock);
        return na_error_set(err, 0, 0, "item message has %zu parts, expected 1", extra + 1);
    }
    size = zmq_msg_size(&part);
    if (size > WIRE_MAX_ITEM) {
        zmq_msg_close(&part);
        return na_error_set(err, 0, 0, "item message of %zu bytes exceeds the limit of %d",
                            size, WIRE_MAX_ITEM);
    }
    rc = item_from_json(zmq_msg_data(&part), size, out, err);
    zmq_msg_close(&part);
    if (rc != 0) {
        *out = NULL;
        na_error_prefix(err, "item message");
        return -1;
    }
    return 0;
}

int wire_send_alert(void *sock, const char *topic, const char *body, size_t len, int flags)
{
    size_t tlen = strlen(topic);

    if (tlen == 0 || tlen > WIRE_MAX_TOPIC || len > WIRE_MAX_ALERT) {
        errno = EMSGSIZE;
        return -1;
    }
    if (zmq_send(sock, topic, tlen, flags | ZMQ_SNDMORE) < 0)
        return -1;
    if (zmq_send(sock, body, len, flags) < 0)
        return -1;
    return 0;
}

/* Check an alert body against the topic it came with.  Returns 0 or -1 with
 * *err set. */
static int wire_check_alert(const char *topic, const char *body, size_t len, na_error *err)
{
    json_error_t jerr;
    json_t *root, *v, *seq, *rule, *rid;
    int rc = -1;

    if (memchr(body, '\0', len) != NULL)
        return na_error_set(err, 0, 0, "alert body contains a NUL byte");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return na_error_set(err, jerr.line, jerr.column, "alert body:%d:%d: invalid JSON: %s",
                            jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        na_error_set(err, 0, 0, "alert body is not a JSON object");
        goto out;
    }
    v = json_object_get(root, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        na_error_set(err, 0, 0, "alert body has %s, expected \"v\": 1",
                     v == NULL ? "no \"v\"" : "an unsupported \"v\"");
        goto out;
    }
    seq = json_object_get(root, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
        na_error_set(err, 0, 0, "alert body has %s",
                     seq == NULL ? "no \"seq\"" : "a \"seq\" that is not a non-negative integer");
        goto out;
    }
    rule = json_object_get(root, "rule");
    if (rule != NULL) {
        if (!json_is_object(rule)) {
            na_error_set(err, 0, 0, "alert body \"rule\" is not an object");
            goto out;
        }
        rid = json_object_get(rule, "id");
        if (rid != NULL && (!json_is_string(rid) || strcmp(json_string_value(rid), topic) != 0)) {
            na_error_set(err, 0, 0, "alert body \"rule.id\" does not match the topic");
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int wire_recv_alert(void *sock, int flags, char **topic, char **body, na_error *err)
{
    zmq_msg_t tpart, bpart;
    size_t tsize, bsize, bad;
    char *t = NULL, *b = NULL;

    *topic = NULL;
    *body = NULL;
    if (wire_recv_part(sock, &tpart, flags) != 0)
        return -2;
    if (!wire_more(sock)) {
        zmq_msg_close(&tpart);
        return na_error_set(err, 0, 0, "alert message has 1 part, expected 2");
    }
    /* The second part is already here (atomic delivery): a blocking receive
     * returns at once. */
    while (wire_recv_part(sock, &bpart, 0) != 0) {
        if (errno != EINTR) {
            zmq_msg_close(&tpart);
            return na_error_set(err, 0, 0, "alert message: cannot receive the body: %s",
                                zmq_strerror(errno));
        }
    }
    if (wire_more(sock)) {
        size_t extra = wire_drain(sock);

        zmq_msg_close(&tpart);
        zmq_msg_close(&bpart);
        return na_error_set(err, 0, 0, "alert message has %zu parts, expected 2", extra + 2);
    }
    tsize = zmq_msg_size(&tpart);
    bsize = zmq_msg_size(&bpart);
    if (tsize == 0 || tsize > WIRE_MAX_TOPIC) {
        na_error_set(err, 0, 0, "alert topic of %zu bytes, expected 1 to %d", tsize,
                     WIRE_MAX_TOPIC);
        goto fail;
    }
    bad = wire_utf8_check(zmq_msg_data(&tpart), tsize);
    if (bad != tsize) {
        na_error_set(err, 0, (int)bad + 1, "alert topic is not valid UTF-8 (byte %zu)", bad + 1);
        goto fail;
    }
    if (bsize > WIRE_MAX_ALERT) {
        na_error_set(err, 0, 0, "alert body of %zu bytes exceeds the limit of %d", bsize,
                     WIRE_MAX_ALERT);
        goto fail;
    }
    t = wire_copy(&tpart);
    b = wire_copy(&bpart);
    if (t == NULL || b == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        goto fail;
    }
    if (wire_check_alert(t, b, bsize, err) != 0)
        goto fail;
    zmq_msg_close(&tpart);
    zmq_msg_close(&bpart);
    *topic = t;
    *body = b;
    return 0;
fail:
    free(t);
    free(b);
    zmq_msg_close(&tpart);
    zmq_msg_close(&bpart);
    return -1;
}

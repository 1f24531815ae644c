/*
 * wire.c - the ZeroMQ framing of items and alerts (see wire.h).
 *
 * Senders check what they send against the same limits receivers enforce.
 * Receivers read every part through zmq_msg_t, so a part is never truncated
 * silently, and consume a bad message entirely (all remaining parts drained)
 * before reporting it, so the next message starts on a clean boundary.
 * Alert bodies are checked with jansson here (JSON object, `v` == 1, a
 * non-negative integer `seq`, `rule.id` equal to the topic when present);
 * item bodies go through item_from_json() or, packed, item_pack_decode().
 * Running out of memory is never reported as a bad message (WIRE_ENOMEM,
 * wire.h): a JSON frame is parsed with jansson's failed allocations
 * counted (item_json_alloc_failures), as jansson itself reports some of
 * them as a syntax error and others not at all.
 * A hand-off header written as jansson writes it is recognised by
 * comparison with jansson's text (wire_handoff_header), others parsed.
 */
#include "wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "item_pack.h"

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
        return rc == ITEM_ENOMEM ? WIRE_ENOMEM : -1;
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

/* jansson parsed (or refused) a frame: did it run out of memory doing it?
 * `before` is item_json_alloc_failures() from before json_loadb. */
static int wire_json_nomem(unsigned long before, const json_t *root, const json_error_t *jerr)
{
    return item_json_alloc_failures() != before ||
           (root == NULL && json_error_code(jerr) == json_error_out_of_memory);
}

/* Check an alert body against the topic it came with.  Returns 0, or -1 or
 * WIRE_ENOMEM with *err set. */
static int wire_check_alert(const char *topic, const char *body, size_t len, na_error *err)
{
    json_error_t jerr;
    json_t *root, *v, *seq, *rule, *rid;
    int rc = -1;
    unsigned long nomem = item_json_alloc_failures();

    if (memchr(body, '\0', len) != NULL)
        return na_error_set(err, 0, 0, "alert body contains a NUL byte");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (wire_json_nomem(nomem, root, &jerr)) {
        json_decref(root);
        na_error_set(err, 0, 0, "out of memory");
        return WIRE_ENOMEM;
    }
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
    int rc = -1;

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
        rc = WIRE_ENOMEM;
        goto fail;
    }
    if ((rc = wire_check_alert(t, b, bsize, err)) != 0)
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
    return rc;
}

/* ---- durable delivery: hand-off, heartbeat, replay (see wire.h) ---- */

void wire_set_heartbeat(void *sock)
{
    int ivl = WIRE_HEARTBEAT_IVL_MS, timeout = WIRE_HEARTBEAT_TIMEOUT_MS;

    zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout));
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &timeout, sizeof(timeout));
}

#define WIRE_MAX_RECV_PARTS 4

/* Receive a whole message: up to WIRE_MAX_RECV_PARTS parts into parts[]
 * (each initialised; the caller closes *n of them), the rest drained.
 * *total is the number of parts the message had.  Returns 0 or -2. */
static int wire_recv_msg(void *sock, int flags, zmq_msg_t *parts, size_t *n, size_t *total)
{
    *n = 0;
    *total = 0;
    if (wire_recv_part(sock, &parts[0], flags) != 0)
        return -2;
    *n = *total = 1;
    while (wire_more(sock)) {
        if (*n == WIRE_MAX_RECV_PARTS) {
            *total += wire_drain(sock);
            break;
        }
        while (wire_recv_part(sock, &parts[*n], 0) != 0) {
            if (errno != EINTR)
                return 0; /* the peer's message is cut short: report what came */
        }
        (*n)++;
        (*total)++;
    }
    return 0;
}

static void wire_close_parts(zmq_msg_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

/* Parse a JSON header part: an object, at most WIRE_MAX_HEADER bytes, with
 * "v" == WIRE_VERSION.  Returns the object (caller decrefs) or NULL with
 * *err set, the message naming `what`, and *rc -1 (bad) or WIRE_ENOMEM. */
static json_t *wire_header_max(const void *data, size_t size, const char *what, size_t max,
                               na_error *err, int *rc)
{
    json_error_t jerr;
    json_t *root, *v;
    unsigned long nomem = item_json_alloc_failures();

    *rc = -1;
    if (size > max) {
        na_error_set(err, 0, 0, "%s header of %zu bytes exceeds the limit of %zu", what, size,
                     max);
        return NULL;
    }
    root = json_loadb(data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (wire_json_nomem(nomem, root, &jerr)) {
        json_decref(root);
        na_error_set(err, 0, 0, "%s header: out of memory", what);
        *rc = WIRE_ENOMEM;
        return NULL;
    }
    if (root == NULL) {
        na_error_set(err, jerr.line, jerr.column, "%s header:%d:%d: invalid JSON: %s", what,
                     jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    v = json_object_get(root, "v");
    if (!json_is_object(root) || !json_is_integer(v) ||
        json_integer_value(v) != WIRE_VERSION) {
        na_error_set(err, 0, 0, "%s header is not an object with \"v\": %d", what,
                     WIRE_VERSION);
        json_decref(root);
        return NULL;
    }
    return root;
}

static json_t *wire_header(zmq_msg_t *part, const char *what, na_error *err, int *rc)
{
    return wire_header_max(zmq_msg_data(part), zmq_msg_size(part), what, WIRE_MAX_HEADER, err,
                           rc);
}

/* An integer member >= 0, or -1 when missing or of another type. */
static int64_t wire_get_count(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    return (int64_t)json_integer_value(v);
}

static int wire_op_is(json_t *obj, const char *op)
{
    json_t *v = json_object_get(obj, "op");

    return json_is_string(v) && strcmp(json_string_value(v), op) == 0;
}

static int wire_set_peer(struct wire_peer *peer, zmq_msg_t *part)
{
    size_t size = zmq_msg_size(part);

    if (size == 0 || size > WIRE_MAX_PEER)
        return -1;
    memcpy(peer->id, zmq_msg_data(part), size);
    peer->len = size;
    return 0;
}

/* Send a JSON header (decref'ed here), with more parts to follow when
 * `more`. */
static int wire_send_json(void *sock, json_t *obj, int flags)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    int rc, saved;

    json_decref(obj);
    if (s == NULL) {
        errno = ENOMEM;
        return -1;
    }
    rc = zmq_send(sock, s, strlen(s), flags);
    saved = errno;
    free(s);
    errno = saved;
    return rc < 0 ? -1 : 0;
}

int wire_send_handoff_enc(void *sock, int64_t tag, int enc, const void *data, size_t len,
                          int flags)
{
    char hdr[96];
    int n;

    if (len > WIRE_MAX_ITEM) {
        errno = EMSGSIZE;
        return -1;
    }
    if (enc != WIRE_ENC_JSON && enc != WIRE_ENC_PACKED) {
        errno = EINVAL;
        return -1;
    }
    /* a fixed header, written directly (one per item: the fetcher's hot
     * path; nothing in it needs escaping) */
    n = snprintf(hdr, sizeof(hdr), "{\"v\":%d,\"op\":\"%s\",\"tag\":%lld}", WIRE_VERSION,
                 enc == WIRE_ENC_PACKED ? WIRE_OP_PACKED_ITEM : WIRE_OP_ITEM, (long long)tag);
    if (n < 0 || (size_t)n >= sizeof(hdr) ||
        zmq_send(sock, hdr, (size_t)n, flags | ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(sock, data, len, flags) < 0 ? -1 : 0;
}

int wire_send_handoff(void *sock, int64_t tag, const char *json, size_t len, int flags)
{
    return wire_send_handoff_enc(sock, tag, WIRE_ENC_JSON, json, len, flags);
}

/*
 * The hand-off header, one per item.  Parsing it with jansson costs about
 * 9,000 instructions (an object, its hash table, three members), 5% of
 * what the matcher spends on an item, as much as the rest of receiving it.
 * Senders write it in one form, the text jansson gives for
 * {"v":1,"op":OP,"tag":T}.  So that text is rebuilt from jansson's output
 * and compared: jansson's dump of the object with tag 0 and with tag 1,
 * taken once, give the bytes before and after the tag (what the two have
 * in common), and jansson's dump of the candidate integer T goes between.
 * A frame equal to prefix + dump(T) + suffix is what jansson writes for
 * that object, and jansson reads back what it writes, so the parse would
 * give op and T: the answer is known without parsing.  Anything else -
 * spaces, another member order, a leading zero, a huge tag, a bad byte -
 * goes to jansson as before, and so gets the same errors.  No JSON is
 * read or written here by hand: the only text compared is jansson's.
 */
struct wire_hdr_form {
    char *pre, *post; /* jansson's text before and after the tag */
    size_t npre, npost;
    int enc;
};

static struct wire_hdr_form wire_hdr_forms[2];
static int wire_hdr_ready; /* 1: the forms are there; -1: unavailable */
static pthread_once_t wire_hdr_once = PTHREAD_ONCE_INIT;

/* jansson's compact text of {"v":WIRE_VERSION,"op":op,"tag":tag} (caller
 * frees), or NULL. */
static char *wire_hdr_dump(const char *op, json_int_t tag)
{
    json_t *o = json_pack("{s:i,s:s,s:I}", "v", WIRE_VERSION, "op", op, "tag", tag);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

static void wire_hdr_init(void)
{
    static const char *const ops[2] = {WIRE_OP_PACKED_ITEM, WIRE_OP_ITEM};
    static const int encs[2] = {WIRE_ENC_PACKED, WIRE_ENC_JSON};
    int ok = 1;

    for (int i = 0; i < 2; i++) {
        struct wire_hdr_form *f = &wire_hdr_forms[i];
        char *t0 = wire_hdr_dump(ops[i], 0), *t1 = wire_hdr_dump(ops[i], 1);
        size_t n0 = t0 != NULL ? strlen(t0) : 0, n1 = t1 != NULL ? strlen(t1) : 0, a = 0, b = 0;

        if (t0 != NULL && t1 != NULL && n0 == n1) {
            while (a < n0 && t0[a] == t1[a])
                a++;
            while (b < n0 - a && t0[n0 - 1 - b] == t1[n1 - 1 - b])
                b++;
        }
        /* the two differ in exactly one byte, the tag's only digit */
        f->pre = a > 0 && a + 1 + b == n0 ? malloc(a) : NULL;
        f->post = f->pre != NULL ? malloc(b > 0 ? b : 1) : NULL;
        if (f->post == NULL) {
            free(f->pre);
            f->pre = NULL;
            ok = 0;
        } else {
            memcpy(f->pre, t0, a);
            memcpy(f->post, t0 + a + 1, b);
            f->npre = a;
            f->npost = b;
            f->enc = encs[i];
        }
        free(t0);
        free(t1);
    }
    wire_hdr_ready = ok ? 1 : -1;
}

/* Is h[0..n) jansson's text of the header of form f with some tag?  Then
 * *tag is the tag. */
static int wire_hdr_is(const struct wire_hdr_form *f, const char *h, size_t n, int64_t *tag)
{
    char digits[24], back[32];
    size_t nd;
    json_t *v;
    size_t got;
    long long t;
    char *end;

    if (n <= f->npre + f->npost || memcmp(h, f->pre, f->npre) != 0 ||
        memcmp(h + n - f->npost, f->post, f->npost) != 0)
        return 0;
    nd = n - f->npre - f->npost;
    if (nd >= sizeof(digits) || h[f->npre] < '0' || h[f->npre] > '9')
        return 0;
    memcpy(digits, h + f->npre, nd);
    digits[nd] = '\0';
    /* a candidate only: the comparison below decides */
    errno = 0;
    t = strtoll(digits, &end, 10);
    if (errno != 0 || *end != '\0' || t < 0)
        return 0;
    v = json_integer((json_int_t)t);
    got = v != NULL ? json_dumpb(v, back, sizeof(back), JSON_ENCODE_ANY) : 0;
    json_decref(v);
    if (got != nd || memcmp(back, digits, nd) != 0)
        return 0;
    *tag = (int64_t)t;
    return 1;
}

int wire_handoff_header(const void *data, size_t len, int jansson_only, int *enc, int64_t *tag,
                        na_error *err)
{
    json_t *hdr;
    int rc;

    *enc = WIRE_ENC_JSON;
    *tag = -1;
    if (data == NULL)
        data = "";
    if (!jansson_only && len <= WIRE_MAX_HEADER) {
        pthread_once(&wire_hdr_once, wire_hdr_init);
        for (int i = 0; wire_hdr_ready == 1 && i < 2; i++)
            if (wire_hdr_is(&wire_hdr_forms[i], data, len, tag)) {
                *enc = wire_hdr_forms[i].enc;
                return 0;
            }
        *tag = -1;
    }
    if ((hdr = wire_header_max(data, len, "item", WIRE_MAX_HEADER, err, &rc)) == NULL)
        return rc;
    /* the op names the payload's form; a receiver that knows neither op
     * (an older matcher meets "packed_item") refuses the message without
     * reading its tag, so it is not acknowledged and stays in the
     * sender's outbox */
    if (wire_op_is(hdr, WIRE_OP_PACKED_ITEM))
        *enc = WIRE_ENC_PACKED;
    else if (!wire_op_is(hdr, WIRE_OP_ITEM))
        *enc = -1;
    if (*enc < 0 || (*tag = wire_get_count(hdr, "tag")) < 0) {
        na_error_set(err, 0, 0,
                     "item header needs \"op\": \"" WIRE_OP_ITEM "\" or \"" WIRE_OP_PACKED_ITEM
                     "\" and a \"tag\" >= 0");
        *enc = WIRE_ENC_JSON;
        *tag = -1;
        json_decref(hdr);
        return -1;
    }
    json_decref(hdr);
    return 0;
}

int wire_recv_handoff_raw(void *router, int flags, struct wire_peer *peer, int64_t *tag,
                          int *enc, char **data, size_t *len, na_error *err)
{
    zmq_msg_t parts[WIRE_MAX_RECV_PARTS];
    size_t n, total, size;
    int rc = -1;

    *data = NULL;
    *len = 0;
    *tag = -1;
    *enc = WIRE_ENC_JSON;
    peer->len = 0;
    if (wire_recv_msg(router, flags, parts, &n, &total) != 0)
        return -2;
    if (wire_set_peer(peer, &parts[0]) != 0)
        peer->len = 0;
    if (total != 3) {
        na_error_set(err, 0, 0, "item message has %zu parts, expected 2", total - 1);
        goto out;
    }
    if ((rc = wire_handoff_header(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), 0, enc,
                                  tag, err)) != 0)
        goto out;
    rc = -1;
    size = zmq_msg_size(&parts[2]);
    if (size > WIRE_MAX_ITEM) {
        na_error_set(err, 0, 0, "item message of %zu bytes exceeds the limit of %d", size,
                     WIRE_MAX_ITEM);
        goto out;
    }
    if ((*data = malloc(size > 0 ? size : 1)) == NULL) {
        na_error_set(err, 0, 0, "item message of %zu bytes: out of memory", size);
        rc = WIRE_ENOMEM;
        goto out;
    }
    memcpy(*data, zmq_msg_data(&parts[2]), size);
    *len = size;
    rc = 0;
out:
    wire_close_parts(parts, n);
    return rc;
}

int wire_decode_item(int enc, const char *data, size_t len, struct item **out, na_error *err)
{
    int rc;

    *out = NULL;
    if (enc == WIRE_ENC_PACKED)
        rc = item_pack_decode(data, len, out, err);
    else
        rc = item_from_json(data, len, out, err);
    if (rc != 0) {
        *out = NULL;
        na_error_prefix(err, "item message");
        return rc == ITEM_ENOMEM ? WIRE_ENOMEM : -1;
    }
    return 0;
}

int wire_recv_handoff(void *router, int flags, struct wire_peer *peer, int64_t *tag,
                      struct item **out, na_error *err)
{
    char *json;
    size_t len;
    int rc, enc;

    *out = NULL;
    rc = wire_recv_handoff_raw(router, flags, peer, tag, &enc, &json, &len, err);
    if (rc != 0)
        return rc;
    rc = wire_decode_item(enc, json, len, out, err);
    free(json);
    return rc;
}

int wire_send_acks(void *router, const struct wire_peer *peer, const int64_t *tags, size_t n)
{
    json_t *arr = json_array(), *obj;
    size_t i;

    if (n > WIRE_MAX_ACKS) {
        json_decref(arr);
        errno = EMSGSIZE;
        return -1;
    }
    for (i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, json_integer(tags[i]));
    obj = json_pack("{s:i,s:s,s:o}", "v", WIRE_VERSION, "op", "ack", "tags", arr);
    if (zmq_send(router, peer->id, peer->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        json_decref(obj);
        return -1;
    }
    return wire_send_json(router, obj, ZMQ_DONTWAIT);
}

int wire_recv_acks(void *dealer, int flags, int64_t **tags, size_t *n, na_error *err)
{
    zmq_msg_t parts[WIRE_MAX_RECV_PARTS];
    size_t np, total, i, count;
    json_t *hdr = NULL, *arr;
    int64_t *out = NULL;
    int rc = -1;

    *tags = NULL;
    *n = 0;
    if (wire_recv_msg(dealer, flags, parts, &np, &total) != 0)
        return -2;
    if (total != 1) {
        na_error_set(err, 0, 0, "ack message has %zu parts, expected 1", total);
        goto out;
    }
    if ((hdr = wire_header_max(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), "ack",
                               WIRE_MAX_ACK_FRAME, err, &rc)) == NULL)
        goto out;
    rc = -1;
    arr = json_object_get(hdr, "tags");
    if (!wire_op_is(hdr, "ack") || !json_is_array(arr) ||
        (count = json_array_size(arr)) > WIRE_MAX_ACKS) {
        na_error_set(err, 0, 0, "ack needs \"op\": \"ack\" and \"tags\": an array of at most %d",
                     WIRE_MAX_ACKS);
        goto out;
    }
    if (count > 0 && (out = malloc(count * sizeof(*out))) == NULL) {
        na_error_set(err, 0, 0, "out of memory");
        rc = WIRE_ENOMEM;
        goto out;
    }
    for (i = 0; i < count; i++) {
        json_t *t = json_array_get(arr, i);

        if (!json_is_integer(t) || json_integer_value(t) < 0) {
            na_error_set(err, 0, 0, "ack tag %zu is not an integer >= 0", i);
            goto out;
        }
        out[i] = (int64_t)json_integer_value(t);
    }
    *tags = out;
    *n = count;
    out = NULL;
    rc = 0;
out:
    free(out);
    json_decref(hdr);
    wire_close_parts(parts, np);
    return rc;
}

int wire_send_heartbeat(void *pub, int64_t head, int64_t oldest, int64_t ts)
{
    static const char topic[] = WIRE_HEARTBEAT_TOPIC;

    if (zmq_send(pub, topic, sizeof(topic) - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return wire_send_json(pub,
                          json_pack("{s:i,s:I,s:I,s:I}", "v", WIRE_VERSION, "head",
                                    (json_int_t)head, "oldest", (json_int_t)oldest, "ts",
                                    (json_int_t)ts),
                          ZMQ_DONTWAIT);
}

void wire_replay_req_clear(struct wire_replay_req *req)
{
    for (size_t i = 0; i < req->ntopics; i++)
        free(req->topics[i]);
    free(req->topics);
    memset(req, 0, sizeof(*req));
    req->id = -1;
}

int wire_recv_replay_req(void *router, int flags, struct wire_peer *peer,
                         struct wire_replay_req *req, na_error *err)
{
    zmq_msg_t parts[WIRE_MAX_RECV_PARTS];
    size_t n, total, i;
    json_t *hdr = NULL, *topics;
    int rc = -1;

    memset(req, 0, sizeof(*req));
    req->id = -1;
    peer->len = 0;
    if (wire_recv_msg(router, flags, parts, &n, &total) != 0)
        return -2;
    if (wire_set_peer(peer, &parts[0]) != 0)
        peer->len = 0;
    if (total != 2) {
        na_error_set(err, 0, 0, "replay request has %zu parts, expected 1", total - 1);
        goto out;
    }
    if ((hdr = wire_header(&parts[1], "replay request", err, &rc)) == NULL)
        goto out;
    rc = -1;
    req->id = wire_get_count(hdr, "id");
    if (req->id < 0) {
        na_error_set(err, 0, 0, "replay request needs an \"id\" >= 0");
        goto out;
    }
    if (wire_op_is(hdr, "head")) {
        req->head_only = 1;
        rc = 0;
        goto out;
    }
    if (!wire_op_is(hdr, "replay")) {
        na_error_set(err, 0, 0, "replay request has an unknown \"op\"");
        goto out;
    }
    if ((req->after = wire_get_count(hdr, "after")) < 0) {
        na_error_set(err, 0, 0, "replay request needs an \"after\" seq >= 0");
        goto out;
    }
    topics = json_object_get(hdr, "topics");
    if (topics != NULL && (!json_is_array(topics) ||
                           json_array_size(topics) > WIRE_MAX_REPLAY_TOPICS)) {
        na_error_set(err, 0, 0, "replay request \"topics\" is not an array of at most %d",
                     WIRE_MAX_REPLAY_TOPICS);
        goto out;
    }
    if (topics != NULL && json_array_size(topics) > 0) {
        req->topics = calloc(json_array_size(topics), sizeof(*req->topics));
        if (req->topics == NULL) {
            na_error_set(err, 0, 0, "out of memory");
            rc = WIRE_ENOMEM;
            goto out;
        }
        for (i = 0; i < json_array_size(topics); i++) {
            json_t *t = json_array_get(topics, i);

            if (!json_is_string(t) || json_string_length(t) > WIRE_MAX_TOPIC ||
                strlen(json_string_value(t)) != json_string_length(t)) {
                na_error_set(err, 0, 0, "replay request topic %zu is not a string of at most %d "
                             "bytes", i, WIRE_MAX_TOPIC);
                goto out;
            }
            if ((req->topics[i] = strdup(json_string_value(t))) == NULL) {
                na_error_set(err, 0, 0, "out of memory");
                rc = WIRE_ENOMEM;
                goto out;
            }
            req->ntopics++;
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        int64_t id = req->id;

        wire_replay_req_clear(req);
        req->id = id;
    }
    json_decref(hdr);
    wire_close_parts(parts, n);
    return rc;
}

static int wire_send_peer(void *router, const struct wire_peer *peer)
{
    return zmq_send(router, peer->id, peer->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int wire_send_replay_batch(void *router, const struct wire_peer *peer, int64_t id,
                           const char *const *topics, const char *const *bodies,
                           const size_t *lens, size_t n)
{
    size_t i;

    if (wire_send_peer(router, peer) != 0 ||
        wire_send_json(router,
                       json_pack("{s:i,s:s,s:I,s:I}", "v", WIRE_VERSION, "type", "batch", "id",
                                 (json_int_t)id, "count", (json_int_t)n),
                       ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        int last = i + 1 == n;

        /* Once the first part is accepted, the rest of the message is too
         * (ZeroMQ queues whole messages). */
        if (zmq_send(router, topics[i], strlen(topics[i]), ZMQ_SNDMORE) < 0 ||
            zmq_send(router, bodies[i], lens[i], last ? 0 : ZMQ_SNDMORE) < 0)
            return -1;
    }
    return 0;
}

int wire_send_replay_end(void *router, const struct wire_peer *peer, int64_t id, int64_t last,
                         int64_t head, int64_t oldest)
{
    if (wire_send_peer(router, peer) != 0)
        return -1;
    return wire_send_json(router,
                          json_pack("{s:i,s:s,s:I,s:I,s:I,s:I}", "v", WIRE_VERSION, "type", "end",
                                    "id", (json_int_t)id, "last", (json_int_t)last, "head",
                                    (json_int_t)head, "oldest", (json_int_t)oldest),
                          ZMQ_DONTWAIT);
}

int wire_send_replay_error(void *router, const struct wire_peer *peer, int64_t id,
                           const char *code, const char *message, int64_t oldest,
                           int64_t head)
{
    if (wire_send_peer(router, peer) != 0)
        return -1;
    return wire_send_json(router,
                          json_pack("{s:i,s:s,s:I,s:s,s:s,s:I,s:I}", "v", WIRE_VERSION, "type",
                                    "error", "id", (json_int_t)id, "code", code, "message",
                                    message, "oldest", (json_int_t)oldest, "head",
                                    (json_int_t)head),
                          ZMQ_DONTWAIT);
}

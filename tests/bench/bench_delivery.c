/*
 * bench_delivery.c - alerts per second through matcher -> journal -> PUB ->
 * client library on loopback, with and without durability, beside libzmq's
 * raw PUB/SUB throughput for the same message size (the ceiling).
 *
 *   bench_delivery MATCHER_BINARY [N [RULES]]
 *
 * For each of journal.sync = true (durable) and false, a real matcher is
 * started in a temporary directory with RULES rules (default 10) that every
 * item matches; a producer thread hands it N / RULES items over the
 * acknowledged hand-off (wire.h, as the fetcher does) and the main thread
 * receives the N alerts with naclient_next(), checking that each comes
 * once and in order (seq 1, 2, 3...).  Every alert goes the matcher's whole
 * way: item decoded, matched, its alert body built (with the explanation),
 * journaled, committed, published, received and parsed by the client
 * library.  Several alerts per item keep the measure on delivery (journal,
 * PUB, client) rather than on parsing and matching items, which bench_match
 * measures; the same runs with one alert per item follow, so the per-item
 * costs show too.  The rate is alerts over the time from the first item sent
 * to the last alert received; the matcher's CPU time per alert is printed
 * too.  Then N messages of the same size go through a bare PUB -> SUB pair
 * (the ceiling), and through the delivery path alone (journal.c group
 * commits, PUB, client library; bodies built beforehand, no matching),
 * durable and not, and (a comparator) the CPU cost of encoding and decoding
 * the producer's item as JSON and packed.  Prints one line per run.
 *
 * Items go over the hand-off packed (item_pack.h, op "packed_item"), as the
 * fetcher sends them.  NA_BENCH_ITEM_ENC=json sends them as item JSON
 * instead (the form before packed items, still accepted by the matcher):
 * run both, with the old and the new matcher, for a before/after.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "item.h"
#include "item_pack.h"
#include "journal.h"
#include "naclient.h"
#include "wire.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("bench: socket");
        exit(1);
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        exit(1);
    }
}

/* The item encoding the producer sends (NA_BENCH_ITEM_ENC). */
static int bench_enc = WIRE_ENC_PACKED;

struct producer {
    const char *endpoint;
    long n;
    long acked;
    double t0;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int hwm = 0, linger = 0;
    long sent = 0;
    struct item *it = item_new();
    char id[32];

    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_connect(s, p->endpoint);
    item_set(&it->feed, "http://bench.example/feed");
    item_set(&it->title, "bench story about the benchmark");
    item_set(&it->link, "http://bench.example/story");
    item_set(&it->summary, "A summary of some length, as a real feed item would carry one, "
                           "with a few words more to make the alert body realistic.");
    p->t0 = now_s();
    while (p->acked < p->n) {
        zmq_pollitem_t pi = {s, 0, ZMQ_POLLIN, 0};

        /* send in windows of 1000 ahead of the acks, as the fetcher would */
        while (sent < p->n && sent - p->acked < 1000) {
            void *data;
            size_t len = 0;
            int rc;

            snprintf(id, sizeof(id), "b%ld", sent);
            item_set(&it->id, id);
            if (bench_enc == WIRE_ENC_PACKED) {
                data = item_pack_encode(it, &len);
            } else {
                data = item_to_json(it);
                len = data != NULL ? strlen(data) : 0;
            }
            rc = data != NULL ? wire_send_handoff_enc(s, sent + 1, bench_enc, data, len, 0) : -1;
            free(data);
            if (rc != 0)
                break;
            sent++;
        }
        if (zmq_poll(&pi, 1, 1000) > 0) {
            int64_t *tags = NULL;
            size_t k;
            na_error err;

            while (wire_recv_acks(s, ZMQ_DONTWAIT, &tags, &k, &err) == 0) {
                p->acked += (long)k;
                free(tags);
                tags = NULL;
            }
        }
    }
    item_free(&it);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

/* One run through the real matcher.  Returns alerts/s (0 when an alert was
 * lost, repeated or out of order); *size gets the size of an alert body,
 * *cpu_us the matcher's CPU time per alert (from its start: rule loading
 * included, a few ms). */
static double run_pipeline(const char *matcher, long n, int nrules, int sync, size_t *size,
                           double *cpu_us)
{
    struct rusage ru;
    long bad_order = 0;
    char dir[] = "/tmp/bench-delivery-XXXXXX", path[512], text[1024], cmd[600];
    char items_ep[64], alerts_ep[64], replay_ep[64], errbuf[256];
    const char *topics[] = {"bench"};
    char rules[4096];
    size_t off;
    struct naclient_opts o;
    struct naclient *c = NULL;
    struct producer p;
    pthread_t th;
    pid_t pid;
    long got = 0;
    double t_end, rate;

    if (mkdtemp(dir) == NULL)
        exit(1);
    snprintf(items_ep, sizeof(items_ep), "tcp://127.0.0.1:%d", free_port());
    snprintf(alerts_ep, sizeof(alerts_ep), "tcp://127.0.0.1:%d", free_port());
    snprintf(replay_ep, sizeof(replay_ep), "tcp://127.0.0.1:%d", free_port());
    snprintf(path, sizeof(path), "%s/rules.json", dir);
    off = (size_t)snprintf(rules, sizeof(rules), "{\"rules\":[");
    for (int r = 0; r < nrules && off < sizeof(rules) - 100; r++)
        off += (size_t)snprintf(rules + off, sizeof(rules) - off,
                                "%s{\"id\":\"bench-%02d\",\"query\":\"benchmark\"}",
                                r > 0 ? "," : "", r);
    snprintf(rules + off, sizeof(rules) - off, "]}");
    write_file(path, rules);
    snprintf(path, sizeof(path), "%s/feeds.json", dir);
    write_file(path, "{\"feeds\":[]}");
    snprintf(text, sizeof(text),
             "{\"state_dir\":\"var\",\"items_endpoint\":\"%s\",\"alerts_endpoint\":\"%s\","
             "\"replay_endpoint\":\"%s\",\"journal\":{\"sync\":%s}}",
             items_ep, alerts_ep, replay_ep, sync ? "true" : "false");
    snprintf(path, sizeof(path), "%s/config.json", dir);
    write_file(path, text);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);

        if (null >= 0)
            dup2(null, 2);
        execl(matcher, matcher, "-c", path, (char *)NULL);
        _exit(127);
    }
    usleep(300000);
    memset(&o, 0, sizeof(o));
    o.alerts_endpoint = alerts_ep;
    o.replay_endpoint = replay_ep;
    o.topics = topics;
    o.ntopics = 1;
    o.since = 0;
    if (naclient_new(&o, &c, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "bench: %s\n", errbuf);
        exit(1);
    }
    memset(&p, 0, sizeof(p));
    p.endpoint = items_ep;
    p.n = n / nrules;
    n = p.n * nrules;
    pthread_create(&th, NULL, produce, &p);
    *size = 0;
    while (got < n) {
        struct naclient_alert a;
        int rc = naclient_next(c, 10000, &a);

        if (rc == 1) {
            got++;
            if (a.seq != got)
                bad_order++;
            *size = a.len;
            naclient_alert_clear(&a);
        } else if (rc == 0) {
            fprintf(stderr, "bench: stalled at %ld alerts\n", got);
            break;
        }
    }
    t_end = now_s();
    pthread_join(th, NULL);
    rate = got / (t_end - p.t0);
    {
        struct naclient_stats st;

        naclient_get_stats(c, &st);
        printf("  (%ld live, %ld replayed)\n", (long)st.live, (long)st.replayed);
    }
    naclient_destroy(&c);
    kill(pid, SIGTERM);
    memset(&ru, 0, sizeof(ru));
    wait4(pid, NULL, 0, &ru);
    *cpu_us = got > 0 ? 1e6 *
                            ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                             (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6) /
                            (double)got
                      : 0;
    if (bad_order > 0) {
        fprintf(stderr, "bench: %ld alerts lost, repeated or out of order\n", bad_order);
        rate = 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: cannot remove %s\n", dir);
    return rate;
}

struct raw {
    void *ctx;
    const char *endpoint;
    long n;
    size_t size;
};

static void *raw_send(void *arg)
{
    struct raw *r = arg;
    void *s = zmq_socket(r->ctx, ZMQ_PUB);
    char *body = malloc(r->size);
    int hwm = 0;

    memset(body, 'x', r->size);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_bind(s, r->endpoint);
    usleep(300000); /* let the subscriber join */
    for (long i = 0; i < r->n; i++) {
        zmq_send(s, "bench", 5, ZMQ_SNDMORE);
        zmq_send(s, body, r->size, 0);
    }
    free(body);
    usleep(200000);
    zmq_close(s);
    return NULL;
}

static double run_raw(long n, size_t size)
{
    struct raw r;
    char ep[64], buf[65536];
    void *sub;
    pthread_t th;
    int hwm = 0, linger = 0;
    long got = 0;
    double t0 = 0;

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", free_port());
    r.ctx = zmq_ctx_new();
    r.endpoint = ep;
    r.n = n;
    r.size = size;
    sub = zmq_socket(r.ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench", 5);
    pthread_create(&th, NULL, raw_send, &r);
    usleep(100000);
    zmq_connect(sub, ep);
    while (got < n) {
        zmq_pollitem_t pi = {sub, 0, ZMQ_POLLIN, 0};

        if (zmq_poll(&pi, 1, 5000) <= 0)
            break;
        zmq_recv(sub, buf, sizeof(buf), 0);
        if (got == 0)
            t0 = now_s();
        zmq_recv(sub, buf, sizeof(buf), 0);
        got++;
    }
    pthread_join(th, NULL);
    zmq_close(sub);
    zmq_ctx_term(r.ctx);
    return got > 1 ? (got - 1) / (now_s() - t0) : 0;
}

struct direct {
    const char *endpoint;
    const char *dir;
    long n;
    size_t size;
    int sync;
};

/* An alert-like body of about `size` bytes carrying seq. */
static size_t direct_body(char *buf, size_t size, long seq)
{
    int len = snprintf(buf, size + 64, "{\"v\":1,\"seq\":%ld,\"pad\":\"", seq);

    while ((size_t)len < size - 2)
        buf[len++] = 'x';
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = '\0';
    return (size_t)len;
}

/* The matcher's delivery work without the matching: groups of 256 alerts
 * appended to a journal, committed, then published. */
static void *direct_publish(void *arg)
{
    struct direct *d = arg;
    struct journal_opts o = {0, 0, d->sync};
    struct journal *j = NULL;
    char path[600], *body = malloc(d->size + 64);
    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
    int hwm = 0;
    na_error err;
    long i = 0;

    snprintf(path, sizeof(path), "%s/journal.db", d->dir);
    if (body == NULL || journal_open(path, &o, &j, &err) != 0) {
        fprintf(stderr, "bench: cannot open the journal\n");
        exit(1);
    }
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_bind(pub, d->endpoint);
    usleep(300000);
    while (i < d->n) {
        long start = i;

        journal_begin(j);
        for (; i < d->n && i - start < 256; i++) {
            size_t len = direct_body(body, d->size, i + 1);

            journal_append(j, i + 1, "bench", body, len, 0);
        }
        journal_commit(j);
        for (long k = start; k < i; k++) {
            size_t len = direct_body(body, d->size, k + 1);

            wire_send_alert(pub, "bench", body, len, 0);
        }
    }
    usleep(200000);
    free(body);
    journal_close(&j);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return NULL;
}

static double run_direct(long n, size_t size, int sync)
{
    char dir[] = "/tmp/bench-delivery-XXXXXX", ep[64], rep[64], errbuf[256], cmd[600];
    struct naclient_opts o;
    struct naclient *c = NULL;
    struct direct d;
    pthread_t th;
    long got = 0;
    double t0 = 0;

    if (mkdtemp(dir) == NULL)
        exit(1);
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", free_port());
    snprintf(rep, sizeof(rep), "tcp://127.0.0.1:%d", free_port());
    d.endpoint = ep;
    d.dir = dir;
    d.n = n;
    d.size = size < 64 ? 64 : size;
    d.sync = sync;
    memset(&o, 0, sizeof(o));
    o.alerts_endpoint = ep;
    o.replay_endpoint = rep; /* nobody: the unbounded PUB queue loses nothing */
    o.since = -1;
    if (naclient_new(&o, &c, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "bench: %s\n", errbuf);
        exit(1);
    }
    pthread_create(&th, NULL, direct_publish, &d);
    while (got < n) {
        struct naclient_alert a;
        int rc = naclient_next(c, 10000, &a);

        if (rc == 1) {
            if (got == 0)
                t0 = now_s(); /* the first alert starts the clock */
            got++;
            naclient_alert_clear(&a);
        } else if (rc == 0) {
            fprintf(stderr, "bench: direct run stalled at %ld\n", got);
            break;
        }
    }
    pthread_join(th, NULL);
    naclient_destroy(&c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: cannot remove %s\n", dir);
    return got > 1 ? (got - 1) / (now_s() - t0) : 0;
}

/* CPU seconds of this thread. */
static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The per-item codec costs behind the hand-off (a comparator): encoding
 * (the fetcher's side) and decoding (the matcher's) the producer's item, as
 * JSON and packed, in CPU microseconds an item over `rounds` items. */
static void run_codec(long rounds)
{
    struct item *it = item_new(), *back = NULL;
    char *json;
    unsigned char *rec;
    size_t jlen, plen;
    double t, enc_j, enc_p, dec_j, dec_p;
    long i;
    int bad = 0;

    item_set(&it->id, "b12345");
    item_set(&it->feed, "http://bench.example/feed");
    item_set(&it->title, "bench story about the benchmark");
    item_set(&it->link, "http://bench.example/story");
    item_set(&it->summary, "A summary of some length, as a real feed item would carry one, "
                           "with a few words more to make the alert body realistic.");
    json = item_to_json(it);
    rec = item_pack_encode(it, &plen);
    if (json == NULL || rec == NULL)
        exit(1);
    jlen = strlen(json);
    t = cpu_s();
    for (i = 0; i < rounds; i++)
        free(item_to_json(it));
    enc_j = cpu_s() - t;
    t = cpu_s();
    for (i = 0; i < rounds; i++) {
        size_t l;

        free(item_pack_encode(it, &l));
    }
    enc_p = cpu_s() - t;
    t = cpu_s();
    for (i = 0; i < rounds; i++) {
        bad |= item_from_json(json, jlen, &back, NULL);
        item_free(&back);
    }
    dec_j = cpu_s() - t;
    t = cpu_s();
    for (i = 0; i < rounds; i++) {
        bad |= item_pack_decode(rec, plen, &back, NULL);
        item_free(&back);
    }
    dec_p = cpu_s() - t;
    printf("item codec (this bench's item: %zu bytes of JSON, %zu packed), CPU us per item:\n"
           "  encode: item_to_json %.2f, item_pack_encode %.2f; decode: item_from_json %.2f, "
           "item_pack_decode %.2f%s\n",
           jlen, plen, 1e6 * enc_j / rounds, 1e6 * enc_p / rounds, 1e6 * dec_j / rounds,
           1e6 * dec_p / rounds, bad ? " (DECODE FAILED)" : "");
    free(json);
    free(rec);
    item_free(&it);
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 50000;
    int nrules = argc > 3 ? atoi(argv[3]) : 10;
    size_t size = 0, size2 = 0;
    double durable, fast, raw, durable1, fast1, cpu;
    const char *enc = getenv("NA_BENCH_ITEM_ENC");

    if (argc < 2 || n < 1 || nrules < 1 || nrules > 50 || n < nrules) {
        fprintf(stderr, "usage: bench_delivery MATCHER_BINARY [N [RULES]]\n");
        return 2;
    }
    if (enc != NULL && strcmp(enc, "json") == 0) {
        bench_enc = WIRE_ENC_JSON;
    } else if (enc != NULL && enc[0] != '\0' && strcmp(enc, "packed") != 0) {
        fprintf(stderr, "bench: NA_BENCH_ITEM_ENC must be json or packed, not '%s'\n", enc);
        return 2;
    }
    printf("items sent %s (NA_BENCH_ITEM_ENC=json|packed)\n",
           bench_enc == WIRE_ENC_PACKED ? "packed" : "as JSON");
    printf("matcher -> journal -> PUB -> client library, %d alerts per item:\n", nrules);
    durable = run_pipeline(argv[1], n, nrules, 1, &size, &cpu);
    printf("durable (journal.sync true):  %10.0f alerts/s  (%ld alerts of %zu bytes; matcher "
           "CPU %.1f us/alert)\n", durable, n, size, cpu);
    fast = run_pipeline(argv[1], n, nrules, 0, &size2, &cpu);
    printf("journal.sync false:           %10.0f alerts/s  (matcher CPU %.1f us/alert)\n", fast,
           cpu);
    printf("the same, 1 alert per item:\n");
    durable1 = run_pipeline(argv[1], n, 1, 1, &size2, &cpu);
    printf("durable (journal.sync true):  %10.0f alerts/s  (matcher CPU %.1f us/alert)\n",
           durable1, cpu);
    fast1 = run_pipeline(argv[1], n, 1, 0, &size2, &cpu);
    printf("journal.sync false:           %10.0f alerts/s  (matcher CPU %.1f us/alert)\n", fast1,
           cpu);
    raw = run_raw(n, size);
    printf("raw libzmq PUB/SUB:           %10.0f msgs/s  (%zu-byte messages; the ceiling)\n", raw,
           size);
    run_codec(n);
    printf("delivery path only (journal + PUB + client library, no matcher):\n");
    printf("  durable:                    %10.0f alerts/s\n", run_direct(n, size, 1));
    printf("  journal.sync false:         %10.0f alerts/s\n", run_direct(n, size, 0));
    printf("durable target 20000/s: %s (%d per item), %s (1 per item); non-durable within 2x "
           "of raw: %s (%.2fx, %d per item), %s (%.2fx, 1 per item)\n",
           durable >= 20000 ? "met" : "NOT met", nrules, durable1 >= 20000 ? "met" : "NOT met",
           fast * 2 >= raw ? "met" : "NOT met", fast > 0 ? raw / fast : 0, nrules,
           fast1 * 2 >= raw ? "met" : "NOT met", fast1 > 0 ? raw / fast1 : 0);
    return durable > 0 && fast > 0 && durable1 > 0 && fast1 > 0 && raw > 0 ? 0 : 1;
}
